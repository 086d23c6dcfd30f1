"""CAPA KPIs over real NATS and PostgreSQL, on an injected clock: three cases at known times
(one action redone late after an ineffective verification, one fix whose alert fired again
inside its window, one case left open) give known on-time, first-pass, effectiveness,
recurrence, time-to-closure and open-action figures, as JSON, CSV and a management review."""
from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from closedloop.replay import replay
from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from shared.contracts import AlertRaised, IncidentResolved
from tests.harness import (
    API_KEYS, PERSON_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until,
)
from tests.integration.test_capa_effectiveness import publish

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
NOVEMBER = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        effectiveness_windows="P0=7d,P1=5d,P2=3d,P3=3d", effectiveness_poll_seconds=0.2),
        clock=clock)).start()
    yield service
    service.stop()


def open_case(capa, nats_url, clock, entity: str, fingerprint: str | None = None) -> str:
    incident_id = f"inc-{uuid.uuid4()}"
    publish(nats_url, IncidentResolved(
        incident_id=incident_id, ref=f"P1-2026-11-{uuid.uuid4().hex[:3]}", severity="P1",
        title="tills frozen", entity=entity, by="Li Wei", summary="restarted", at=clock.now(),
        fingerprint=fingerprint), "incidents")
    api = capa.client(RESPONDER_KEY)
    return wait_until(lambda: next(iter(api.get("/v1/capa", params={
        "incident_id": incident_id}).json()["items"]), None), message="the case")["id"]


def ok(response):
    assert response.status_code < 300, response.text
    return response.json()


def test_kpis_of_a_month_with_a_late_action_a_recurrence_and_an_open_case(
        capa, nats_url, clock, database_url):
    api, bob = capa.client(RESPONDER_KEY), capa.client(PERSON_KEYS["bob"])
    fingerprint = f"tills:{uuid.uuid4().hex[:8]}"
    # 11-02 09:00, 10:00, 11:00: three incidents resolved, three cases open.
    a = open_case(capa, nats_url, clock, "store-1")
    clock.advance(timedelta(hours=1))
    b = open_case(capa, nats_url, clock, "store-2", fingerprint)
    clock.advance(timedelta(hours=1))
    open_case(capa, nats_url, clock, "store-1")
    ok(api.post(f"/v1/capa/{a}/root-cause", json={
        "by": "Zhang Min", "method": "fishbone", "statement": "no restart procedure",
        "category": "method"}))
    ok(api.post(f"/v1/capa/{a}/actions", json={
        "by": "Zhang Min", "kind": "corrective", "title": "write the procedure", "owner": "alice",
        "due_date": "2026-11-04", "acceptance_criteria": "procedure published"}))
    ok(api.post(f"/v1/capa/{b}/root-cause", json={
        "by": "Zhang Min", "method": "5whys", "statement": "firmware leaks memory",
        "whys": ["tills froze", "memory ran out"]}))
    ok(api.post(f"/v1/capa/{b}/actions", json={
        "by": "Zhang Min", "kind": "corrective", "title": "update firmware", "owner": "dave",
        "due_date": "2026-11-10", "acceptance_criteria": "no freeze for a week"}))

    # 11-03: both actions done; A's is sent back, B's holds and its window starts.
    clock.advance(timedelta(hours=22))
    ok(api.post(f"/v1/capa/{a}/actions/A-1/complete", json={"by": "alice", "evidence": "v1"}))
    ok(api.post(f"/v1/capa/{b}/actions/A-1/complete", json={"by": "dave", "evidence": "fw 2.1"}))
    clock.advance(timedelta(hours=1))
    ok(bob.post(f"/v1/capa/{a}/actions/A-1/verify", json={
        "verifier": "bob", "effective": False, "note": "misses the network reset"}))
    assert ok(bob.post(f"/v1/capa/{b}/actions/A-1/verify", json={
        "verifier": "bob", "effective": True}))["status"] == "effectiveness"

    # 11-04 09:00: B's alert fires again inside the window; a preventive action is added,
    # due 11-03, so it is overdue from the day it is added.
    clock.advance(timedelta(hours=23))
    publish(nats_url, AlertRaised(
        alert_id=str(uuid.uuid4()), fingerprint=fingerprint, source="rule", rule_id="tills",
        name="tills frozen", metric="frozen", entity="store-2", severity="P1", value=3,
        threshold=1, started_at=clock.now()), "detector")
    wait_until(lambda: api.get(f"/v1/capa/{b}").json()["status"] == "open",
               message="case B back in analysis")
    ok(api.post(f"/v1/capa/{b}/actions", json={
        "by": "Zhang Min", "kind": "preventive", "title": "memory alarm", "owner": "dave",
        "due_date": "2026-11-03", "acceptance_criteria": "alarm pages at 80 %"}))

    # 11-05 09:00: A's action redone, a day late; verified; 11-06 09:00 the fix is checked.
    clock.advance(timedelta(days=1))
    ok(api.post(f"/v1/capa/{a}/actions/A-1/complete", json={"by": "alice", "evidence": "v2"}))
    clock.advance(timedelta(hours=1))
    ok(bob.post(f"/v1/capa/{a}/actions/A-1/verify", json={"verifier": "bob", "effective": True}))
    clock.advance(timedelta(hours=23))
    assert ok(bob.post(f"/v1/capa/{a}/effectiveness-check", json={
        "verifier": "bob", "text": "no freeze for three days", "evidence": "till log"}
    ))["status"] == "closed"

    viewer = capa.client(VIEWER_KEY)
    month = wait_until(lambda: (lambda r: r if r["overall"]["mean_time_to_closure_hours"][
        "denominator"] == 1 else None)(ok(viewer.get("/v1/capa/kpis", params=NOVEMBER))),
        message="the KPI read model up to the closure")
    overall = month["overall"]
    assert month["as_of"] == "2026-11-06T09:00:00Z"  # the month has not ended on the clock
    figures = {name: (f["numerator"], f["denominator"], f["value"]) for name, f in overall.items()}
    assert figures["on_time_rate"] == (1, 3, 0.3333)  # A late, B's first on time, B's second overdue
    assert figures["verification_first_pass_rate"] == (1, 2, 0.5)
    assert figures["effectiveness_pass_rate"] == (1, 2, 0.5)
    assert figures["recurrence_rate"] == (1, 3, 0.3333)
    assert figures["mean_time_to_closure_hours"] == (96.0, 1, 96.0)
    assert figures["open_actions"][2] == 1 and figures["open_actions_overdue"][2] == 1
    assert figures["open_actions_0-7d"][2] == 1
    assert month["open_actions_by_owner"] == [{"owner": "dave", "open": 1, "overdue": 1, "age": {
        "0-7d": 1, "7-30d": 0, "30-90d": 0, "90d+": 0}}]
    assert month["systemic_problems"] == {"raised": 0, "closed": 0, "open": 0}

    by_entity = {g["key"]: g["kpis"] for g in ok(viewer.get(
        "/v1/capa/kpis", params={**NOVEMBER, "by": "entity"}))["groups"]}
    assert by_entity["store-1"]["recurrence_rate"]["value"] == 0.0  # 0 of 2
    assert by_entity["store-1"]["mean_time_to_closure_hours"]["value"] == 96.0
    assert by_entity["store-2"]["recurrence_rate"]["value"] == 1.0
    assert by_entity["store-2"]["on_time_rate"]["value"] == 0.5
    by_category = {g["key"]: g["kpis"] for g in ok(viewer.get(
        "/v1/capa/kpis", params={**NOVEMBER, "by": "category"}))["groups"]}
    assert by_category["method"]["effectiveness_pass_rate"]["value"] == 1.0
    assert by_category["uncategorised"]["recurrence_rate"]["numerator"] == 1
    by_owner = ok(viewer.get("/v1/capa/kpis", params={**NOVEMBER, "by": "owner"}))
    owners = {g["key"]: g["kpis"] for g in by_owner["groups"]}
    assert owners["alice"]["on_time_rate"]["value"] == 0.0
    assert owners["dave"]["verification_first_pass_rate"]["value"] == 1.0
    assert "recurrence_rate" not in owners["dave"]  # a case KPI has no owner

    # A period that ended on 11-04 00:00 sees A's action still open (added 11-02, verified
    # 11-05) and nothing of B's second action, added after it.
    early = ok(viewer.get("/v1/capa/kpis", params={"from": "2026-11-01", "to": "2026-11-04"}))
    assert early["open_actions_by_owner"] == [{"owner": "alice", "open": 1, "overdue": 0, "age": {
        "0-7d": 1, "7-30d": 0, "30-90d": 0, "90d+": 0}}]

    exported = viewer.get("/v1/capa/kpis", params={**NOVEMBER, "by": "entity", "format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    cell = {(r["group"], r["kpi"]): r for r in rows}
    assert cell[("all", "on_time_rate")] == {"group": "all", "kpi": "on_time_rate",
                                             "numerator": "1", "denominator": "3",
                                             "value": "0.3333"}
    assert cell[("store-2", "recurrence_rate")]["value"] == "1.0"
    assert cell[("store-1", "effectiveness_pass_rate")]["value"] == "1.0"

    review = ok(viewer.get("/v1/capa/kpis/review", params=NOVEMBER))
    assert review["headline"]["effectiveness_pass_rate"]["value"] == 0.5
    assert review["overdue_by_owner"] == [{"owner": "dave", "overdue": 1, "open": 1}]
    assert review["recurring_entities"] == [{"entity": "store-2", "recurred": 1, "cases": 1}]
    assert "| CAPA actions on time | 33.3 % | 1 of 3 |" in review["markdown"]
    assert "| Mean time to closure | 96 h | 1 closed |" in review["markdown"]
    text = viewer.get("/v1/capa/kpis/review", params={**NOVEMBER, "format": "md"})
    assert text.headers["content-type"].startswith("text/markdown")
    assert text.text == review["markdown"]

    # The read model is rebuilt from the log exactly (closedloop replay capa).
    capa.stop()
    assert asyncio.run(replay("capa", database_url)) == 0


def test_a_period_that_ends_before_it_starts_is_refused_naming_from(capa):
    viewer = capa.client(VIEWER_KEY)
    for path in ("/v1/capa/kpis", "/v1/capa/kpis/review"):
        refused = viewer.get(path, params={"from": "2026-12-01", "to": "2026-11-01"})
        assert refused.status_code == 422, refused.text
        assert "from" in refused.text and "before" in refused.text
    assert viewer.get("/v1/capa/kpis", params={"by": "team"}).status_code == 422


def test_an_empty_period_reports_no_rate_rather_than_zero(capa):
    empty = capa.client(VIEWER_KEY).get("/v1/capa/kpis", params={"to": date(2026, 11, 1)})
    overall = empty.json()["overall"]
    assert overall["on_time_rate"] == {"numerator": 0, "denominator": 0, "value": None}
    assert overall["mean_time_to_closure_hours"]["value"] is None
