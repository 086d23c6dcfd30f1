"""Closing paths and drills over real NATS and PostgreSQL (docs/adr/closing-paths.md), with
the shipped closing policy (P0/P1 required, P2 observe 7 days, P3 optional) and one injected
clock for incidents and capa: a false positive closes without a CAPA case and still counts
in the detector's rule health; a self-fixed P2 closes by itself after its observation window
on a fast-forwarded clock, another is sent back by a re-fire inside it; drills run the loop
but stay out of the CAPA KPIs."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.capa.main import create_app as capa_app
from services.capa.settings import CapaSettings
from services.detector.main import create_app as detector_app
from services.detector.settings import DetectorSettings
from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from shared.clock import ManualClock
from shared.contracts import AlertRaised, AlertResolved
from tests.harness import API_KEYS, MANAGER_KEY, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_capa_effectiveness import publish

pytestmark = pytest.mark.integration

T0 = datetime.now(timezone.utc).replace(microsecond=0)
DAY = 86400.0


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def incidents(database_url, nats_url, clock):
    service = RunningService(incidents_app(IncidentsSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        sla_poll_seconds=0.2), clock=clock)).start()
    yield service
    service.stop()


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(capa_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        effectiveness_poll_seconds=0.2), clock=clock)).start()
    yield service
    service.stop()


@pytest.fixture
def detector(database_url, nats_url):
    service = RunningService(detector_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        tick_seconds=0.2))).start()
    yield service
    service.stop()


def ok(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def incident_of(incidents: RunningService, fingerprint: str, status: str | None = None) -> dict:
    api = incidents.client(RESPONDER_KEY)

    def found() -> dict | None:
        items = [i for i in ok(api.get("/v1/incidents", params={"limit": 500}))["items"]
                 if i["fingerprint"] == fingerprint]
        if not items:
            return None
        incident = ok(api.get(f"/v1/incidents/{items[0]['id']}"))
        return incident if status is None or incident["status"] == status else None

    return wait_until(found, message=f"the incident of {fingerprint} ({status or 'any'})")


def case_of(capa: RunningService, incident_id: str) -> dict | None:
    items = ok(capa.client(RESPONDER_KEY).get("/v1/capa", params={
        "incident_id": incident_id}))["items"]
    return items[0] if items else None


def p1_resolved_with_a_case(incidents: RunningService, capa: RunningService,
                            drill: bool = False, entity: str = "store-017") -> tuple[dict, dict]:
    """A P1 reported by hand and resolved: its severity requires a CAPA case, which opens."""
    api = incidents.client(RESPONDER_KEY)
    declared = ok(api.post("/v1/incidents", json={
        "severity": "P1", "title": "冷柜温度异常", "entity": entity,
        "summary": "freezer at -8 °C", "reporter": "li.na", "drill": drill}))
    ok(api.post(f"/v1/incidents/{declared['id']}/resolve", json={
        "by": "li.na", "summary": "door seal replaced; back to -18 °C"}))
    case = wait_until(lambda: case_of(capa, declared["id"]), message="the P1's CAPA case")
    return declared, case


def raise_alert(nats_url: str, fingerprint: str, severity: str, at: datetime) -> str:
    alert_id = f"alert-{uuid.uuid4().hex[:8]}"
    publish(nats_url, AlertRaised(
        alert_id=alert_id, fingerprint=fingerprint, source="rule", rule_id="queue-wait",
        name="Checkout queue wait", metric="store.queue_wait_minutes", entity="store-017",
        severity=severity, value=9.5, threshold=6.0, started_at=at), "detector")
    return alert_id


def clear_alert(nats_url: str, fingerprint: str, alert_id: str, at: datetime) -> None:
    publish(nats_url, AlertResolved(alert_id=alert_id, fingerprint=fingerprint,
                                    entity="store-017", value=4.0, resolved_at=at), "detector")


# -- a false positive ------------------------------------------------------------------------
def test_a_false_positive_closes_without_a_capa_case_and_counts_against_its_rule(
        detector, incidents, capa, nats_url):
    with detector.client() as client:
        ok(client.put("/v1/metrics/catalogue", json=[
            {"name": "store.nps.daily", "interval": "1d"}]))
        r = client.post("/v1/rules", json={"name": "nps low", "metric": "store.nps.daily",
                                           "severity": "P1", "when": {"value": {}, "below": 55}})
        rule = ok(r)
        day = (time.time() // DAY - 1) * DAY
        ok(client.post("/v1/samples", json={"series": [{
            "metric": "store.nps.daily", "entity": "store-9", "labels": {},
            "ts": [day], "values": [40]}]}))
        alert = wait_until(lambda: next((a for a in client.get("/v1/alerts").json()
                                         if a["rule_id"] == rule["id"]), None), message="alert")

    incident = incident_of(incidents, alert["fingerprint"])
    assert incident["severity"] == "P1"  # its severity would require a CAPA case
    resolved = ok(incidents.client(RESPONDER_KEY).post(
        f"/v1/incidents/{incident['id']}/resolve", json={
            "by": "li.wei", "summary": "the survey export doubled the detractors",
            "verdict": "false_positive"}))
    assert resolved["status"] == "closed"
    assert resolved["capa_id"] is None
    assert resolved["closing"]["path"] == resolved["closing"]["closed_via"] == "false_positive"
    assert resolved["timeline"][-1]["action"] == "closed"
    assert "false positive" in resolved["timeline"][-1]["detail"]

    # capa hears the INCIDENTS stream in order: once a later P1's case is open, the false
    # positive's resolution has been handled, and it opened nothing.
    p1_resolved_with_a_case(incidents, capa)
    assert case_of(capa, incident["id"]) is None

    with detector.client() as client:
        health = wait_until(lambda: next((h for h in client.get("/v1/rules/health").json()
                                          if h["rule_id"] == rule["id"]
                                          and h["false_positive"]), None),
                            message="the verdict in rule health")
    assert (health["false_positive"], health["confirmed"]) == (1, 0)

    # Found out afterwards to have been a drill: its verdict leaves the rule's health.
    ok(incidents.client(MANAGER_KEY).post(f"/v1/incidents/{incident['id']}/drill", json={
        "by": "zhou.min", "reason": "NPS survey drill"}))
    with detector.client() as client:
        wait_until(lambda: next((h for h in client.get("/v1/rules/health").json()
                                 if h["rule_id"] == rule["id"]
                                 and (h["false_positive"], h["confirmed"]) == (0, 0)), None),
                   message="the drill's verdict withdrawn from rule health")


# -- self-fix and observe --------------------------------------------------------------------
def observed_p2(incidents: RunningService, nats_url: str, clock: ManualClock) -> tuple[str, dict]:
    """A P2 whose alert cleared, resolved as fixed by the store itself: observed 7 days."""
    fingerprint = f"queue:{uuid.uuid4().hex[:8]}"
    alert_id = raise_alert(nats_url, fingerprint, "P2", clock.now())
    incident = incident_of(incidents, fingerprint)
    clock.advance(timedelta(hours=2))
    clear_alert(nats_url, fingerprint, alert_id, clock.now())
    api = incidents.client(RESPONDER_KEY)
    wait_until(lambda: ok(api.get(f"/v1/incidents/{incident['id']}"))["cleared_alert_ids"],
               message="the clearing recorded")
    resolved = ok(api.post(f"/v1/incidents/{incident['id']}/resolve", json={
        "by": "li.na", "summary": "门店自主解决: a third till opened at peak"}))
    return fingerprint, resolved


def test_a_self_fixed_p2_closes_by_itself_when_its_alert_stayed_clear_for_7_days(
        incidents, capa, nats_url, clock):
    _, resolved = observed_p2(incidents, nats_url, clock)
    assert resolved["status"] == "observing" and resolved["status_label"] == "观察中"
    closing = resolved["closing"]
    assert (closing["path"], closing["observe_seconds"]) == ("observe", 7 * DAY)
    assert closing["observe_ends_at"] == (clock.now() + timedelta(days=7)).isoformat().replace(
        "+00:00", "Z")
    api = incidents.client(RESPONDER_KEY)
    refused = api.post(f"/v1/incidents/{resolved['id']}/close",
                       json={"by": "li.na", "note": "fine now"})
    assert refused.status_code == 409 and "closes by itself" in refused.text

    clock.advance(timedelta(days=6, hours=23))
    time.sleep(0.6)  # three polls of the watch: nothing is due yet
    assert ok(api.get(f"/v1/incidents/{resolved['id']}"))["status"] == "observing"

    clock.advance(timedelta(hours=1))
    closed = wait_until(lambda: (lambda i: i if i["status"] == "closed" else None)(
        ok(api.get(f"/v1/incidents/{resolved['id']}"))), message="closed by the watch")
    assert closed["closing"]["closed_via"] == "observe" and closed["capa_id"] is None
    assert closed["timeline"][-1]["detail"].startswith(
        "the alert stayed clear through the 7-day window")
    assert case_of(capa, resolved["id"]) is None


def test_a_re_fire_inside_the_window_sends_it_back_and_the_next_resolution_needs_a_capa(
        incidents, capa, nats_url, clock):
    fingerprint, resolved = observed_p2(incidents, nats_url, clock)
    clock.advance(timedelta(days=2, hours=3))
    again = raise_alert(nats_url, fingerprint, "P2", clock.now())

    api = incidents.client(RESPONDER_KEY)
    back = wait_until(lambda: (lambda i: i if i["status"] == "investigating" else None)(
        ok(api.get(f"/v1/incidents/{resolved['id']}"))), message="back to investigation")
    assert again in back["alert_ids"] and back["reopened"] == 1
    failed = next(e for e in back["timeline"] if e["action"] == "observation failed")
    assert failed["detail"].startswith(
        f"{resolved['ref']} cannot close: alert 'Checkout queue wait' on store-017 fired "
        "2 days into the 7-day window (day 3)")
    assert back["closing"]["observations_failed"] == 1
    assert [i["ref"] for i in ok(api.get("/v1/incidents", params={"severity": "P2"}))[
        "items"]] == [resolved["ref"]]  # no second incident: this one is investigated again

    # The self-fix did not hold: this time a CAPA case is opened.
    again_resolved = ok(api.post(f"/v1/incidents/{resolved['id']}/resolve", json={
        "by": "li.na", "summary": "till 3 staffed from the rota"}))
    assert again_resolved["closing"]["path"] == "required"
    assert again_resolved["status"] == "planning"
    wait_until(lambda: case_of(capa, resolved["id"]), message="a CAPA case this time")


# -- drills ----------------------------------------------------------------------------------
def test_drills_run_the_loop_but_stay_out_of_the_capa_kpis(incidents, capa, clock):
    declared, declared_case = p1_resolved_with_a_case(incidents, capa, drill=True)
    flagged, flagged_case = p1_resolved_with_a_case(incidents, capa)
    assert declared["drill"] and not flagged["drill"]
    opened = next(e for e in declared["timeline"] if e["action"] == "opened")
    assert "a drill (演练), kept out of every KPI" in opened["detail"]

    responder = incidents.client(RESPONDER_KEY)
    refused = responder.post(f"/v1/incidents/{flagged['id']}/drill",
                             json={"by": "li.na", "reason": "cold-chain drill"})
    assert refused.status_code == 403  # a manager's call: it takes the incident out of KPIs
    marked = ok(incidents.client(MANAGER_KEY).post(f"/v1/incidents/{flagged['id']}/drill", json={
        "by": "zhou.min", "reason": "quarterly cold-chain drill (冷链演练)"}))
    assert marked["drill"] and marked["timeline"][-1]["action"] == "flagged as drill"
    drills = wait_until(lambda: (lambda items: items if len(items) == 2 else None)(
        ok(responder.get("/v1/incidents", params={"drill": True}))["items"]),
        message="both drills listed")
    assert {i["id"] for i in drills} == {declared["id"], flagged["id"]}
    api = capa.client(RESPONDER_KEY)
    wait_until(lambda: ok(api.get(f"/v1/capa/{flagged_case['id']}"))["drill"],
               message="the flag reaching the case")
    assert ok(api.get(f"/v1/capa/{declared_case['id']}"))["drill"] is True
    wait_until(lambda: case_of(capa, flagged["id"])["drill"], message="the list showing it")

    # A real case last: once the KPIs show it, the drills' events before it are in them too.
    p1_resolved_with_a_case(incidents, capa, entity="store-real")
    period = {"from": (T0 - timedelta(hours=1)).isoformat(),
              "to": (T0 + timedelta(hours=1)).isoformat(), "by": "entity"}
    kpis = wait_until(lambda: (lambda k: k if k["groups"] else None)(
        ok(api.get("/v1/capa/kpis", params=period))), message="the real case in the KPIs")
    # Three cases opened in the hour; only the real one is counted.
    assert [g["key"] for g in kpis["groups"]] == ["store-real"]
    assert kpis["overall"]["recurrence_rate"]["denominator"] == 1


# -- optional --------------------------------------------------------------------------------
def test_a_p3_is_closed_by_hand_with_a_note_or_gets_the_capa_case_someone_asks_for(
        incidents, capa):
    api = incidents.client(RESPONDER_KEY)

    def resolved_p3(title: str) -> dict:
        declared = ok(api.post("/v1/incidents", json={
            "severity": "P3", "title": title, "entity": "store-017", "reporter": "li.na"}))
        return ok(api.post(f"/v1/incidents/{declared['id']}/resolve", json={
            "by": "li.na", "summary": "door seal pushed back"}))

    closed_by_hand = resolved_p3("冷柜门报警")
    assert closed_by_hand["closing"]["path"] == "optional"
    empty = api.post(f"/v1/incidents/{closed_by_hand['id']}/close", json={"by": "li.na",
                                                                         "note": ""})
    assert empty.status_code == 422 and "note" in empty.text
    closed = ok(api.post(f"/v1/incidents/{closed_by_hand['id']}/close", json={
        "by": "li.na", "note": "one-off: a delivery left the door ajar"}))
    assert (closed["status"], closed["closing"]["closed_via"], closed["capa_id"]) == (
        "closed", "optional", None)

    wanted = resolved_p3("冷柜门又报警")
    ok(api.post(f"/v1/incidents/{wanted['id']}/capa", json={
        "by": "li.na", "reason": "third door alarm this month"}))
    case = wait_until(lambda: case_of(capa, wanted["id"]), message="the requested case")
    assert case["severity"] == "P3"
    refused = api.post(f"/v1/incidents/{wanted['id']}/close", json={"by": "li.na",
                                                                  "note": "fine"})
    assert refused.status_code == 409 and "a CAPA case was opened for it" in refused.text
    wait_until(lambda: ok(api.get(f"/v1/incidents/{wanted['id']}"))["capa_id"] == case["id"],
               message="the case's opening on the incident")
    # Only the asked-for case: the hand-closed P3 got none.
    assert case_of(capa, closed_by_hand["id"]) is None
