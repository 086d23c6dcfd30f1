"""The capa service against real NATS and PostgreSQL: a resolved incident opens a case, the
case is analysed, acted on, verified by someone else and closes, and the loop hears of it."""
from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError

from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.bus.deadletter import REASON
from shared.contracts import CapaClosed, CapaOpened, CloudEvent, IncidentResolved
from tests.harness import (
    ADMIN_KEY, API_KEYS, PERSON_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until,
)

pytestmark = pytest.mark.integration

RESOLVED = IncidentResolved.type_name()
DURABLE = "capa-incidents"


@pytest.fixture
def capa(database_url, nats_url):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS))).start()
    yield service
    service.stop()


def run(coro_fn, nats_url: str, *args: Any) -> Any:
    async def with_connection():
        nc = await nats.connect(nats_url)
        try:
            return await coro_fn(nc.jetstream(), *args)
        finally:
            await nc.close()

    return asyncio.run(with_connection())


async def _publish(js, data: bytes, msg_id: str) -> int:
    ack = await js.publish(RESOLVED, data, headers={"Nats-Msg-Id": msg_id})
    return ack.seq


async def _last(js, stream: str, subject: str) -> Any:
    try:
        return await js.get_last_msg(stream, subject)
    except NotFoundError:
        return None


async def _count(js, stream: str, subject: str) -> int:
    info = await js.stream_info(stream, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def _acked_through(js, seq: int) -> bool:
    info = await js.consumer_info("INCIDENTS", DURABLE)
    return info.ack_floor.stream_seq >= seq


def case_of(api, incident_id: str) -> dict[str, Any] | None:
    items = api.get("/v1/capa", params={"incident_id": incident_id}).json()["items"]
    return items[0] if items else None


def today() -> date:
    return datetime.now(timezone.utc).date()


def resolved_incident(incident_id: str, ref: str) -> bytes:
    contract = IncidentResolved(incident_id=incident_id, ref=ref, severity="P0",
                                title="checkout returns 5xx", entity="checkout", by="alice",
                                summary="rolled back release 812",
                                at=datetime.now(timezone.utc))
    envelope = CloudEvent(id=f"incidents:{uuid.uuid4()}", source="closedloop/incidents",
                          type=RESOLVED, time=contract.at, subject=incident_id,
                          data=contract.model_dump(mode="json"))
    return envelope.to_bytes()


def test_a_resolved_incident_is_analysed_acted_on_verified_by_someone_else_and_closed(
        capa, nats_url):
    incident_id, ref = f"inc-{uuid.uuid4()}", f"P0-2026-11-{uuid.uuid4().hex[:4]}"
    api = capa.client(RESPONDER_KEY)

    # A poison message first: it goes to the dead-letter stream and the consumer keeps going.
    garbage_seq = run(_publish, nats_url, b"{not a cloudevent", f"garbage-{uuid.uuid4()}")
    message = resolved_incident(incident_id, ref)
    first_seq = run(_publish, nats_url, message, f"incidents:{uuid.uuid4()}")
    dead = wait_until(lambda: run(_last, nats_url, "DLQ", f"closedloop.dlq.capa.{RESOLVED}"),
                      message="the garbage message in the DLQ")
    assert dead.data == b"{not a cloudevent"
    assert "unreadable message" in dead.headers[REASON]
    assert garbage_seq < first_seq

    # The resolved incident opens a case; the read model and the CAPA stream show it.
    summary = wait_until(lambda: case_of(api, incident_id), message="the case in GET /v1/capa")
    capa_id = summary["id"]
    assert (summary["ref"], summary["status"], summary["actions_total"]) == (ref, "open", 0)
    opened = wait_until(lambda: run(_last, nats_url, "CAPA", CapaOpened.type_name()),
                        message="CapaOpened on the CAPA stream")
    assert CapaOpened.model_validate(CloudEvent.from_bytes(opened.data).data).capa_id == capa_id

    # Analysis: five whys.
    case = api.post(f"/v1/capa/{capa_id}/root-cause", json={
        "by": "alice", "method": "5whys",
        "statement": "the connection pool size was never load tested",
        "whys": ["checkout returned 5xx", "db connections ran out", "pool was 10",
                 "default never changed", "no load test for pool size"]})
    assert case.status_code == 200, case.text
    assert case.json()["root_cause"]["whys"][-1] == "no load test for pool size"

    # Actions: one corrective, one preventive, with different owners.
    due = (today() + timedelta(days=14)).isoformat()
    fix = api.post(f"/v1/capa/{capa_id}/actions", json={
        "by": "lead", "kind": "corrective", "title": "raise pool to 50", "owner": "alice",
        "due_date": due, "acceptance_criteria": "p99 < 300ms at 2x peak"})
    guard = api.post(f"/v1/capa/{capa_id}/actions", json={
        "by": "lead", "kind": "preventive", "title": "load test pool settings in CI",
        "owner": "dan", "due_date": due, "acceptance_criteria": "CI fails on pool exhaustion"})
    assert (fix.status_code, guard.status_code) == (201, 201), (fix.text, guard.text)
    assert (fix.json()["id"], guard.json()["id"]) == ("A-1", "A-2")

    # Verification is person-bound: bob verifies with his own key; a service key may not.
    bob = capa.client(PERSON_KEYS["bob"])
    verify = {"verifier": "bob", "effective": True, "note": "checked"}
    early = bob.post(f"/v1/capa/{capa_id}/actions/A-1/verify", json=verify)
    assert early.status_code == 409 and "only a completed action" in early.json()["detail"]

    for action, owner in (("A-1", "alice"), ("A-2", "dan")):
        done = api.post(f"/v1/capa/{capa_id}/actions/{action}/complete",
                        json={"by": owner, "evidence": f"change for {action} merged"})
        assert done.status_code == 200, done.text
    twice = api.post(f"/v1/capa/{capa_id}/actions/A-1/complete",
                     json={"by": "alice", "evidence": "again"})
    assert twice.status_code == 409

    robot = api.post(f"/v1/capa/{capa_id}/actions/A-1/verify", json=verify)
    assert robot.status_code == 403 and "must be done by a person" in robot.json()["detail"]
    as_someone_else = bob.post(f"/v1/capa/{capa_id}/actions/A-1/verify",
                               json={**verify, "verifier": "carol"})
    assert as_someone_else.status_code == 403
    assert "belongs to bob; it cannot act as carol" in as_someone_else.json()["detail"]

    # The owner cannot verify their own action.
    own = capa.client(PERSON_KEYS["alice"]).post(f"/v1/capa/{capa_id}/actions/A-1/verify", json={**verify, "verifier": "alice"})
    assert own.status_code == 409
    assert own.json()["detail"] == (f"action A-1 of CAPA for {ref} cannot be verified by its "
                                    "owner alice: verification needs someone else")

    first = bob.post(f"/v1/capa/{capa_id}/actions/A-1/verify", json=verify).json()
    assert first["status"] == "open" and first["closure_blockers"] == ["action A-2 is not verified"]
    last = bob.post(f"/v1/capa/{capa_id}/actions/A-2/verify", json=verify)
    assert last.status_code == 200, last.text
    # A manual incident (no alert to watch): a person other than the owners checks the fix.
    assert last.json()["status"] == "effectiveness"
    assert last.json()["closure_blockers"] == ["a person other than the action owners must "
                                               "record an effectiveness check"]
    check = {"verifier": "alice", "text": "p99 under 300ms at two peaks",
             "evidence": "grafana snapshot 2026-11-20"}
    owner_check = capa.client(PERSON_KEYS["alice"]).post(
        f"/v1/capa/{capa_id}/effectiveness-check", json=check)
    assert owner_check.status_code == 409, owner_check.text
    assert "other than the action owners (alice, dan); alice is one" in owner_check.text
    checked = bob.post(f"/v1/capa/{capa_id}/effectiveness-check",
                       json={**check, "verifier": "bob"})
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "closed"
    assert checked.json()["effectiveness"]["check"]["by"] == "bob"

    # Closure is published with the root cause, and the read model follows.
    closed_msg = wait_until(lambda: run(_last, nats_url, "CAPA", CapaClosed.type_name()),
                            message="CapaClosed on the CAPA stream")
    closed = CapaClosed.model_validate(CloudEvent.from_bytes(closed_msg.data).data)
    assert (closed.capa_id, closed.incident_id, closed.ref, closed.actions) == (
        capa_id, incident_id, ref, 2)
    assert closed.root_cause == "the connection pool size was never load tested"
    assert run(_count, nats_url, "CAPA", "closedloop.capa.action.verified.v1") == 2
    wait_until(lambda: api.get("/v1/capa", params={"incident_id": incident_id, "status": "closed"}
                               ).json()["items"], message="the closed case in the read model")
    [row] = api.get("/v1/capa", params={"incident_id": incident_id}).json()["items"]
    assert (row["status"], row["actions_total"], row["actions_verified"]) == ("closed", 2, 2)
    assert row["root_cause"] == closed.root_cause and row["closed_at"]

    late = api.post(f"/v1/capa/{capa_id}/actions", json={
        "by": "lead", "kind": "corrective", "title": "late idea", "owner": "erin",
        "due_date": due, "acceptance_criteria": "something"})
    assert late.status_code == 409 and "is closed" in late.json()["detail"]

    # The same IncidentResolved again (a new Msg-Id, so JetStream keeps it): no second case.
    again_seq = run(_publish, nats_url, message, f"incidents:{uuid.uuid4()}")
    wait_until(lambda: run(_acked_through, nats_url, again_seq),
               message="the consumer to finish with the redelivery")
    assert api.get("/v1/capa", params={"incident_id": incident_id}).json()["total"] == 1
    case = api.get(f"/v1/capa/{capa_id}").json()
    assert case["status"] == "closed"
    assert [h["event"] for h in case["history"]].count("Opened") == 1
    assert run(_count, nats_url, "CAPA", CapaOpened.type_name()) == 1
    assert run(_count, nats_url, "DLQ", f"closedloop.dlq.capa.{RESOLVED}") == 1


def test_an_ineffective_verification_sends_the_action_back_to_its_owner(capa, nats_url):
    incident_id = f"inc-{uuid.uuid4()}"
    api = capa.client(RESPONDER_KEY)
    run(_publish, nats_url, resolved_incident(incident_id, "P1-2026-11-002"), str(uuid.uuid4()))
    capa_id = wait_until(lambda: case_of(api, incident_id), message="the case")["id"]
    api.post(f"/v1/capa/{capa_id}/actions", json={
        "by": "lead", "kind": "corrective", "title": "fix", "owner": "alice",
        "due_date": today().isoformat(), "acceptance_criteria": "no 5xx for a week"})
    api.post(f"/v1/capa/{capa_id}/actions/A-1/complete", json={"by": "alice", "evidence": "PR 1"})

    reopened = capa.client(PERSON_KEYS["bob"]).post(f"/v1/capa/{capa_id}/actions/A-1/verify",
                        json={"verifier": "bob", "effective": False, "note": "5xx came back"})
    assert reopened.status_code == 200, reopened.text
    action = api.get(f"/v1/capa/{capa_id}/actions/A-1").json()
    assert (action["status"], action["note"]) == ("open", "5xx came back")

    # Only the owner completes it again, unless a manager's key is used on the owner's behalf.
    retry = {"by": "carol", "evidence": "PR 2 with a circuit breaker"}
    stranger = api.post(f"/v1/capa/{capa_id}/actions/A-1/complete", json=retry)
    assert stranger.status_code == 409 and "owner alice or by a manager" in stranger.text
    manager = capa.client(ADMIN_KEY).post(f"/v1/capa/{capa_id}/actions/A-1/complete", json=retry)
    assert manager.status_code == 200, manager.text
    [action] = manager.json()["actions"]
    assert (action["status"], action["completed_by"]) == ("completed", "carol")
    events = [h["event"] for h in api.get(f"/v1/capa/{capa_id}").json()["history"]]
    assert events == ["Opened", "ActionAdded", "ActionCompleted", "ActionReopened",
                      "ActionCompleted"]


def test_requests_are_refused_with_a_reason(capa, nats_url):
    incident_id = f"inc-{uuid.uuid4()}"
    responder, viewer = capa.client(RESPONDER_KEY), capa.client(VIEWER_KEY)
    run(_publish, nats_url, resolved_incident(incident_id, "P2-2026-11-003"), str(uuid.uuid4()))
    capa_id = wait_until(lambda: case_of(viewer, incident_id), message="the case")["id"]
    action = {"by": "lead", "kind": "corrective", "title": "fix", "owner": "alice",
              "due_date": today().isoformat(), "acceptance_criteria": "it works"}

    assert capa.client("").get("/v1/capa").status_code == 401
    assert capa.client("wrong-key").get(f"/v1/capa/{capa_id}").status_code == 401
    forbidden = viewer.post(f"/v1/capa/{capa_id}/actions", json=action)
    assert forbidden.status_code == 403 and "responder" in forbidden.json()["detail"]
    assert viewer.get(f"/v1/capa/{capa_id}").status_code == 200

    unknown = uuid.uuid4()
    assert responder.get(f"/v1/capa/{unknown}").status_code == 404
    assert responder.post(f"/v1/capa/{unknown}/actions", json=action).status_code == 404
    missing_action = responder.post(f"/v1/capa/{capa_id}/actions/A-9/complete",
                                    json={"by": "alice", "evidence": "x"})
    assert missing_action.status_code == 404 and "A-9" in missing_action.json()["detail"]

    no_criteria = responder.post(f"/v1/capa/{capa_id}/actions",
                                 json={k: v for k, v in action.items()
                                       if k != "acceptance_criteria"})
    assert no_criteria.status_code == 422
    assert [e["field"] for e in no_criteria.json()["errors"]] == ["acceptance_criteria"]
    too_early = responder.post(f"/v1/capa/{capa_id}/actions", json={
        **action, "due_date": (today() - timedelta(days=30)).isoformat()})
    assert too_early.status_code == 422 and too_early.json()["errors"][0]["field"] == "due_date"
    fishbone = responder.post(f"/v1/capa/{capa_id}/root-cause", json={
        "by": "alice", "method": "fishbone", "statement": "threshold never tuned"})
    assert fishbone.status_code == 422 and "category" in fishbone.json()["detail"]
    assert json.loads(responder.get(f"/v1/capa/{capa_id}").text)["actions"] == []
