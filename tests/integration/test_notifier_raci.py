"""RACI that drives who is told, and late stages chased up the organisation. A P0 on 深圳宝安店
opens with named people (the incidents service shows them); R and A are paged, I hears of
the opening; R, A and I (but not who resolved it) hear of the resolution and the closure.
An action's verification left undone tells the Responsible at 80% of its time, the
accountable manager at the deadline, then the operations director one level up. Real NATS and PostgreSQL; the clock is a ManualClock
shared by the services."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from shared.contracts import (
    AlertRaised, CapaActionAdded, CapaActionCompleted, CapaActionVerified, IncidentClosed,
    IncidentResolved,
)
from tests.harness import (
    API_KEYS, MANAGER_KEY, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until,
)
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    SECRET, WAIT, clock, incident_opened, notifier, publish, receiver,
)

pytestmark = pytest.mark.integration

PEOPLE = {"wang.jianguo": "王建国", "zhao.lei": "赵磊", "zhou.min": "周敏", "li.na": "李娜"}
UNITS = [
    {"key": "hq", "name": "总部", "roles": {"运营总监": ["wang.jianguo"]}},
    {"key": "south", "name": "华南战区", "parent": "hq",
     "roles": {"战区负责人": ["zhao.lei"], "运营专家": ["zhou.min"]}},
    {"key": "store-017", "name": "深圳宝安店", "parent": "south", "roles": {"店长": ["li.na"]},
     "entities": ["store-017"]},
]
RULES = {
    "matrix": {
        "P0": {"responsible": ["运营专家", "店长"], "accountable": ["战区负责人"],
               "informed": ["运营总监"]},
        "P1": {"responsible": ["运营专家", "店长"], "accountable": ["运营专家"],
               "informed": ["战区负责人"]},
        "P2": {"responsible": ["店长"], "accountable": ["店长"], "consulted": ["运营专家"]}},
    "deadlines": {"warn_at": 0.8, "up_after_seconds": 3600, "verify_within_seconds": 86400,
                  "up_roles": ["战区负责人", "运营总监"],
                  "stages": {"P0": {"planning": 86400, "executing": 604800}}},
}


def store_network(notifier, receiver) -> None:
    with notifier.client(MANAGER_KEY) as manager:
        gateway = manager.post("/v1/channels", json={
            "name": "im-gateway", "url": receiver.url("/im"), "secret": SECRET})
        assert gateway.status_code == 201, gateway.text
        for handle, name in PEOPLE.items():
            added = manager.post("/v1/people", json={
                "handle": handle, "name": name, "contacts": [
                    {"medium": "chat", "address": f"@{handle}", "channel": "im-gateway"}]})
            assert added.status_code == 201, added.text
        for unit in UNITS:
            assert manager.post("/v1/units", json=unit).status_code == 201
        bad = manager.put("/v1/raci", json={"matrix": {"P0": {"responsible": ["店长"]}}})
        assert bad.status_code == 422 and "matrix.P0.accountable" in bad.text
        rules = manager.put("/v1/raci", json=RULES)
        assert rules.status_code == 200, rules.text


def told(receiver, incident_id: str, prefix: str = "") -> list[tuple[str, str]]:
    bodies = [json.loads(r["body"]) for r in receiver.received("/im", incident_id)]
    return sorted((b["reason"], b["recipient"]["handle"]) for b in bodies
                  if b["reason"].startswith(prefix))


def test_a_p0_on_a_store_opens_staffed_and_the_informed_hear_of_resolution_and_closure(
        notifier, receiver, database_url, nats_url, clock):
    incidents = RunningService(incidents_app(IncidentsSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS), clock=clock)).start()
    try:
        store_network(notifier, receiver)
        publish(nats_url, AlertRaised(
            alert_id=f"alert-{uuid.uuid4().hex[:8]}", fingerprint=f"fp-{uuid.uuid4().hex[:8]}",
            source="rule", name="收银系统故障", entity="store-017", severity="P0",
            started_at=clock.now()))
        with incidents.client(RESPONDER_KEY) as responder:
            [incident] = wait_until(lambda: responder.get("/v1/incidents").json()["items"],
                                    WAIT, "the incident")
            ref = incident["ref"]
            raci = wait_until(lambda: (lambda r: r if r["accountable"] else None)(
                responder.get(f"/v1/incidents/{ref}").json()["raci"]), WAIT, "the staffing")
            assert raci == {"responsible": ["zhou.min", "li.na"], "accountable": ["zhao.lei"],
                            "consulted": [], "informed": ["wang.jianguo"]}
            # The notifier placed store-017 in the organisation; the board shows where.
            card = wait_until(lambda: (lambda c: c if c["unit"] else None)(
                responder.get("/v1/board").json()["columns"][0]["cards"][0]), WAIT, "the unit")
            assert [u["key"] for u in card["unit_path"]] == ["hq", "south", "store-017"]
            assert card["region"]["key"] == "south"
            # Its entity is store-017, its unit 深圳宝安店: 宝安 finds it.
            found = responder.get("/v1/incidents", params={"q": "宝安"}).json()["items"]
            assert [i["ref"] for i in found] == [ref]
            wait_until(lambda: len(told(receiver, incident["id"])) == 4, WAIT, "R, A and I")
            assert told(receiver, incident["id"]) == [
                ("incident.opened", h) for h in ("li.na", "wang.jianguo", "zhao.lei", "zhou.min")]

            resolved = responder.post(f"/v1/incidents/{ref}/resolve",
                                      json={"by": "li.na", "summary": "换了收银机"})
            assert resolved.status_code == 200, resolved.text
            wait_until(lambda: len(told(receiver, incident["id"], "incident.resolved")) == 3,
                       WAIT, "R, A and I told of the resolution")
            timeline = responder.get(f"/v1/incidents/{ref}/timeline").json()
            assert any(e["action"] == "staffed" for e in timeline)
        # 方案制定中 has a day: its clock started with the resolution. Planning an action moves
        # the incident to 执行中, which ends it and starts its own week.
        planning = wait_until(lambda: deadline(notifier, incident["id"], "stage:planning"),
                              WAIT, "the planning stage's time box")
        assert planning["status"] == "waiting"
        publish(nats_url, CapaActionAdded(
            capa_id="c-1", incident_id=incident["id"], action_id="A-1", kind="corrective",
            title="换收银机", owner="li.na", due_date=(clock.now() + timedelta(days=3)).date(),
            acceptance_criteria="一周无故障", by="zhao.lei", at=clock.now()))
        executing = wait_until(lambda: deadline(notifier, incident["id"], "stage:executing"),
                               WAIT, "the executing stage's time box")
        assert executing["kind"] == "executing" and executing["status"] == "waiting"
        assert deadline(notifier, incident["id"], "stage:planning")["status"] == "met"
        # The incidents service closes it when the CAPA case closes; its closure as it
        # publishes it.
        publish(nats_url, IncidentClosed(incident_id=incident["id"], ref=ref, capa_id="c-1",
                                         at=clock.now()))
        wait_until(lambda: len(told(receiver, incident["id"], "incident.closed")) == 4, WAIT,
                   "R, A and I told of the closure")
        # li.na resolved it herself: she is not told; the closure (the CAPA case's) reaches all.
        assert told(receiver, incident["id"], "incident.r") == [
            ("incident.resolved", h) for h in ("wang.jianguo", "zhao.lei", "zhou.min")]
        assert told(receiver, incident["id"], "incident.c") == [
            ("incident.closed", h) for h in ("li.na", "wang.jianguo", "zhao.lei", "zhou.min")]
        wait_until(lambda: deadline(notifier, incident["id"], "stage:executing")["status"]
                   == "met", WAIT, "the closure ends the stage")
    finally:
        incidents.stop()


def deadline(notifier, incident_id: str, key: str) -> dict | None:
    with notifier.client(VIEWER_KEY) as viewer:
        items = viewer.get("/v1/deadlines", params={"incident_id": incident_id}).json()["items"]
    return next((d for d in items if d["key"] == key), None)


def test_an_overdue_verification_chases_the_accountable_manager_then_one_level_up(
        notifier, receiver, nats_url, clock):
    store_network(notifier, receiver)
    incident = incident_opened(clock).model_copy(update={"entity": "store-017"})
    publish(nats_url, incident)
    iid = incident.incident_id
    wait_until(lambda: deadline(notifier, iid, "resolve"), WAIT, "the incident's deadlines")
    publish(nats_url, IncidentResolved(
        incident_id=iid, ref=incident.ref, severity="P0", title=incident.title,
        entity="store-017", by="li.na", at=clock.now()))
    wait_until(lambda: (deadline(notifier, iid, "resolve") or {}).get("status") == "met", WAIT,
               "service restored in time")

    # The CAPA case: one action, done by its owner, then nobody verifies it.
    publish(nats_url, CapaActionAdded(
        capa_id="c-1", incident_id=iid, action_id="A-1", kind="corrective", title="换收银机",
        owner="李娜", due_date=(clock.now() + timedelta(days=2)).date(),
        acceptance_criteria="一周无故障", by="zhao.lei", at=clock.now()))
    wait_until(lambda: deadline(notifier, iid, "action:A-1"), WAIT, "the action's due date")
    publish(nats_url, CapaActionCompleted(
        capa_id="c-1", incident_id=iid, action_id="A-1", kind="corrective", owner="李娜",
        completed_by="li.na", evidence="已更换", open_actions=0, at=clock.now()))
    wait_until(lambda: deadline(notifier, iid, "verification:A-1"), WAIT, "its verification")
    assert deadline(notifier, iid, "action:A-1")["status"] == "met"

    clock.advance(timedelta(hours=19, minutes=12))  # 80% of the day it has
    wait_until(lambda: len(told(receiver, iid, "late.verification")) == 2, WAIT, "the warnings")
    clock.advance(timedelta(hours=4, minutes=48))  # the deadline
    wait_until(lambda: len(told(receiver, iid, "late.verification")) == 3, WAIT, "the manager")
    clock.advance(timedelta(hours=1))  # still nobody: one level up
    wait_until(lambda: len(told(receiver, iid, "late.verification")) == 4, WAIT, "one level up")
    assert told(receiver, iid, "late.verification") == [
        ("late.verification.deadline", "zhao.lei"),  # the accountable manager
        ("late.verification.up", "wang.jianguo"),  # 总部's 运营总监
        ("late.verification.warning", "li.na"), ("late.verification.warning", "zhou.min")]
    [up] = [json.loads(r["body"]) for r in receiver.received("/im", iid)
            if json.loads(r["body"])["reason"] == "late.verification.up"]
    assert up["about"]["subject"] == "A-1" and up["about"]["deadline"] == "verification"
    wait_until(lambda: deadline(notifier, iid, "verification:A-1")["fired"] == [
        "warning", "deadline", "up"], WAIT, "the read model showing each phase fired once")

    publish(nats_url, CapaActionVerified(
        capa_id="c-1", incident_id=iid, action_id="A-1", kind="corrective", owner="李娜",
        verifier="zhao.lei", at=clock.now()))
    with notifier.client(VIEWER_KEY) as viewer:
        items = wait_until(lambda: [d for d in viewer.get("/v1/deliveries", params={
            "incident_id": iid}).json()["items"] if d["reason"] == "late.verification.up"],
            WAIT, "the chase explained")
    assert items[0]["target"] == "up:运营总监@hq" and items[0]["person"] == "wang.jianguo"
    # Nothing else was late: respond and resolve were met, the action was done in time.
    assert not told(receiver, iid, "late.respond") and not told(receiver, iid, "late.action")


def test_a_held_incident_is_chased_from_its_release_with_the_time_it_had(
        notifier, receiver, nats_url, clock):
    store_network(notifier, receiver)
    with notifier.client(MANAGER_KEY) as manager:
        silence = manager.post("/v1/silences", json={
            "matchers": ['entity="store-017"'], "comment": "门店装修",
            "ends_at": (clock.now() + timedelta(hours=2)).isoformat()})
        assert silence.status_code == 201, silence.text
    incident = incident_opened(clock).model_copy(update={"entity": "store-017"})
    iid = incident.incident_id
    publish(nats_url, incident)
    with notifier.client(VIEWER_KEY) as viewer:
        wait_until(lambda: viewer.get(f"/v1/staffings/{iid}").status_code == 200, WAIT,
                   "staffed while held")
    clock.advance(timedelta(minutes=30))  # past its respond deadline: nobody was told
    assert deadline(notifier, iid, "respond") is None and not told(receiver, iid)

    clock.advance(timedelta(minutes=90))  # the silence ends: told, and chased from now
    respond = wait_until(lambda: deadline(notifier, iid, "respond"), WAIT, "its deadlines")
    assert respond["due_at"].startswith((clock.now() + timedelta(minutes=15))
                                        .isoformat()[:16])
    assert deadline(notifier, iid, "resolve")["status"] == "waiting"
    clock.advance(timedelta(minutes=12))
    # Both members are told, each by its own delivery: wait for the two.
    wait_until(lambda: len(told(receiver, iid, "late.respond")) == 2, WAIT, "the warnings")
    assert told(receiver, iid, "late.respond") == [
        ("late.respond.warning", "li.na"), ("late.respond.warning", "zhou.min")]
