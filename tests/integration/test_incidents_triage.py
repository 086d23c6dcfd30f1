"""Triage end to end, on real NATS and PostgreSQL with the incidents service and the notifier
on one ManualClock; a local webhook receiver records every page.

1. Three rules fire on 深圳宝安店 within the group window: one incident holding three alerts,
   raised to P0 when the worst fires (SeverityChanged naming the alert, new deadlines, the
   P0 page); a responder may not lower it (403 naming why), a manager may.
2. 2,000 alerts in one burst: past 20 new incidents a minute the rest are gathered under one
   storm incident that pages once, counts what it gathered, ends by itself once a whole
   minute passes quietly, and lists every alert it gathered."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import nats
import pytest

from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from shared.contracts import AlertRaised, CloudEvent, IncidentSeverityChanged
from tests.harness import API_KEYS, MANAGER_KEY, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    clock, notifier, receiver, setup_routing,
)

pytestmark = pytest.mark.integration

STORE = "深圳宝安店"


def alert(clock, rule: str, store: str, severity: str) -> CloudEvent:
    contract = AlertRaised(
        alert_id=f"{rule}:{store}:1", fingerprint=f"{rule}:{store}", source="rule", name=rule,
        entity=f"{rule}:{store}", labels={"store": store}, severity=severity,
        summary=f"{rule} breached on {store}", started_at=clock.now())
    return CloudEvent(id=f"detector:{rule}:{store}", source="closedloop/detector",
                      type=AlertRaised.type_name(), time=contract.started_at,
                      data=contract.model_dump(mode="json"))


async def _send(nats_url: str, envelopes: list[CloudEvent]) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        acks = [await js.publish_async(e.type, e.to_bytes(), headers={"Nats-Msg-Id": e.id})
                for e in envelopes]  # pipelined, as the detector's relay sends a backlog
        await asyncio.gather(*acks)
    finally:
        await nc.close()


async def _severity_changes(nats_url: str, incident_id: str) -> list[dict]:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.jetstream().subscribe(IncidentSeverityChanged.type_name(),
                                             ordered_consumer=True)
        found = []
        while True:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                return found
            data = CloudEvent.from_bytes(msg.data).data
            if data["incident_id"] == incident_id:
                found.append(data)
    finally:
        await nc.close()


def send(nats_url: str, envelopes: list[CloudEvent]) -> None:
    asyncio.run(_send(nats_url, envelopes))


def start_incidents(database_url, nats_url, clock, **triage) -> RunningService:
    return RunningService(incidents_app(IncidentsSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, storm_poll_seconds=0.2,
        **triage), clock=clock)).start()


def incidents_list(service: RunningService) -> list[dict]:
    with service.client(VIEWER_KEY) as api:
        response = api.get("/v1/incidents", params={"limit": 100})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def pages(receiver, incident_id: str | None = None) -> list[dict]:
    return [json.loads(r["body"]) for r in receiver.received("/oncall", incident_id)]


def test_three_rules_on_one_store_are_one_incident_raised_when_the_worst_fires(
        notifier, receiver, database_url, nats_url, clock):
    incidents = start_incidents(database_url, nats_url, clock, group_by="store",
                                group_window="30m")
    try:
        setup_routing(notifier, receiver, severities=("P0",), escalate_after=3600)
        # 销售额骤降 and 退款率 (P2) within minutes of each other…
        send(nats_url, [alert(clock, "gmv_drop", STORE, "P2")])
        wait_until(lambda: incidents_list(incidents), 20, "the first incident")
        clock.advance(timedelta(minutes=4))
        send(nats_url, [alert(clock, "refund_rate", STORE, "P2"),
                        alert(clock, "gmv_drop", "广州天河店", "P2")])  # another store: its own
        wait_until(lambda: len(incidents_list(incidents)) == 2, 20, "the other store's incident")
        with incidents.client(VIEWER_KEY) as api:
            [ours] = [i for i in incidents_list(incidents) if i["entity"] == f"gmv_drop:{STORE}"]
            wait_until(lambda: len(api.get(f"/v1/incidents/{ours['ref']}").json()["alert_ids"])
                       == 2, 20, "the refund alert joins the store's incident")
        assert not pages(receiver)  # P2: nobody paged yet
        # …then 客诉 at P0, ten minutes after the first: the incident goes up with it.
        clock.advance(timedelta(minutes=6))
        fired = clock.now()
        send(nats_url, [alert(clock, "complaints", STORE, "P0")])
        with incidents.client(VIEWER_KEY) as api:
            now = wait_until(lambda: (lambda i: i if i["severity"] == "P0" else None)(
                api.get(f"/v1/incidents/{ours['ref']}").json()), 20, "the raise to P0")
            listed = api.get(f"/v1/incidents/{ours['ref']}/alerts").json()
        assert len(incidents_list(incidents)) == 2  # still one incident for the store
        assert [(a["name"], a["severity"]) for a in listed] == [
            ("gmv_drop", "P2"), ("refund_rate", "P2"), ("complaints", "P0")]
        assert now["ref"] == ours["ref"]  # refs are never renumbered
        # P0's deadlines from when the P0 alert fired.
        assert now["respond_by"][:19] == (fired + timedelta(minutes=5)).isoformat()[:19]
        [change] = asyncio.run(_severity_changes(nats_url, now["id"]))
        assert (change["previous"], change["severity"], change["reason"]) == (
            "P2", "P0", f"alert:complaints:{STORE} fired at P0")
        # The notifier pages the raise: P0 is on call, and nobody has it in hand.
        wait_until(lambda: pages(receiver, now["id"]), 20, "the P0 page")
        assert [p["reason"] for p in pages(receiver, now["id"])] == ["incident.severity_changed"]

        # A responder may raise but not lower; a manager may lower, with a reason.
        with incidents.client(RESPONDER_KEY) as api:
            refused = api.post(f"/v1/incidents/{ours['ref']}/severity", json={
                "severity": "P2", "reason": "客诉已平息", "by": "li.na"})
        assert refused.status_code == 403
        assert "lowering a severity needs the manager role" in refused.text
        with incidents.client(MANAGER_KEY) as api:
            lowered = api.post(f"/v1/incidents/{ours['ref']}/severity", json={
                "severity": "P2", "reason": "客诉已平息", "by": "wang.jianguo"})
        assert lowered.status_code == 200, lowered.text
        assert lowered.json()["severity"] == "P2"
    finally:
        incidents.stop()


def test_a_storm_of_2000_alerts_pages_once_and_ends_by_itself(
        notifier, receiver, database_url, nats_url, clock):
    incidents = start_incidents(database_url, nats_url, clock, storm_control="20/60s")
    try:
        setup_routing(notifier, receiver, severities=("P1",), escalate_after=3600)
        send(nats_url, [alert(clock, "store_offline", f"store-{i:04d}", "P1")
                        for i in range(2000)])

        def storm() -> dict | None:
            found = [i for i in incidents_list(incidents) if i["title"].startswith("Alert storm")]
            if not found:
                return None
            with incidents.client(VIEWER_KEY) as api:
                return api.get(f"/v1/incidents/{found[0]['ref']}").json()

        grown = wait_until(lambda: (lambda s: s if s and s["storm"]["alerts"] == 1980 else None)(
            storm()), 120, "1,980 alerts gathered under the storm")
        assert grown["storm"]["entities"] == 1980 and grown["storm"]["ended_at"] is None
        assert grown["title"] == "Alert storm: more than 20 new incidents in 1m"
        assert len(incidents_list(incidents)) == 21  # twenty on their own, then the storm
        # Paged once for the storm, once for each of the twenty before it.
        wait_until(lambda: len(pages(receiver)) == 21, 30, "21 pages")
        assert len(pages(receiver, grown["id"])) == 1
        with incidents.client(VIEWER_KEY) as api:
            gathered = api.get(f"/v1/incidents/{grown['ref']}/alerts").json()
        assert len(gathered) == 1980
        assert {a["entity"] for a in gathered} == {
            f"store_offline:store-{i:04d}" for i in range(20, 2000)}

        # Two whole minutes on the clock, the second without a single alert: the storm ends.
        clock.advance(timedelta(seconds=121))
        ended = wait_until(lambda: (lambda s: s if s["storm"]["ended_at"] else None)(storm()),
                           20, "the storm's end")
        assert ended["progress_updates"] == 1
        assert ended["timeline"][-1]["detail"].startswith(
            "update 1 from storm control: alert storm over: 1980 alerts gathered on 1980 "
            "entities")
        # After the storm, a new alert opens an incident of its own again.
        send(nats_url, [alert(clock, "store_offline", "store-after", "P1")])
        wait_until(lambda: len(incidents_list(incidents)) == 22, 20, "an incident of its own")
        wait_until(lambda: len(pages(receiver)) == 22, 30, "its page")
        assert len(pages(receiver, ended["id"])) == 1  # the storm paged once, all along
    finally:
        incidents.stop()
