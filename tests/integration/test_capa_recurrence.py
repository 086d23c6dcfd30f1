"""Recurrence over real NATS and PostgreSQL: a case closed by the window watch is reopened
when its alert returns as a new incident within the recurrence period; the loop hears
CapaRecurred and the read model shows the case back in analysis. A rule recurring on other
entities raises a systemic problem (two recurrences here, to keep the story short)."""
from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from services.capa.domain.recurrence import SystemicProblem
from shared.contracts import (
    CapaRecurred, CapaSystemicProblemRaised, CloudEvent, IncidentOpened, IncidentResolved,
)
from tests.harness import API_KEYS, PERSON_KEYS, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_capa_effectiveness import T0, _last, publish, watched_case

pytestmark = pytest.mark.integration


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        effectiveness_windows="P0=7d", effectiveness_poll_seconds=0.2,
        capa_recurrence_period="90d", capa_systemic_recurrences=2), clock=clock)).start()
    yield service
    service.stop()


def test_the_alert_returning_after_closure_reopens_the_case(capa, nats_url, clock):
    fingerprint = f"nps:{uuid.uuid4().hex[:8]}"
    ref = f"P0-2026-12-{uuid.uuid4().hex[:3]}"
    capa_id = watched_case(capa, nats_url, clock, ref, fingerprint)
    api = capa.client(RESPONDER_KEY)
    clock.advance(timedelta(days=7))
    wait_until(lambda: api.get(f"/v1/capa/{capa_id}").json()["status"] == "closed",
               message="the case closed by the window watch")

    clock.advance(timedelta(days=20))
    again = f"inc-{uuid.uuid4()}"
    publish(nats_url, IncidentOpened(
        incident_id=again, ref="P0-2027-01-001", fingerprint=fingerprint, severity="P0",
        title="NPS collapse", entity="store-042", alert_id=str(uuid.uuid4()),
        opened_at=clock.now(), respond_by=clock.now() + timedelta(minutes=15),
        resolve_by=clock.now() + timedelta(hours=4),
        labels={"alertname": "NPS collapse", "entity": "store-042"}), "incidents")

    case = wait_until(lambda: (lambda c: c if c["status"] == "open" else None)(
        api.get(f"/v1/capa/{capa_id}").json()), message="the case back in analysis")
    [recurrence] = case["recurrence"]["recurrences"]
    assert (recurrence["incident_id"], recurrence["ref"]) == (again, "P0-2027-01-001")
    assert case["closed_at"] is None
    assert any("recurred as P0-2027-01-001" in b for b in case["closure_blockers"])

    message = wait_until(lambda: asyncio.run(_last(nats_url, CapaRecurred.type_name())),
                         message="CapaRecurred on the CAPA stream")
    recurred = CapaRecurred.model_validate(CloudEvent.from_bytes(message.data).data)
    assert (recurred.capa_id, recurred.recurrence_incident_id) == (capa_id, again)
    assert recurred.after_seconds == timedelta(days=20).total_seconds()
    wait_until(lambda: api.get("/v1/capa", params={"incident_id": case["incident_id"],
                                                   "status": "open"}).json()["items"],
               message="the read model back to open")


def opened(nats_url: str, clock: ManualClock, rule: str, entity: str, ref: str) -> str:
    incident_id = f"inc-{uuid.uuid4()}"
    publish(nats_url, IncidentOpened(
        incident_id=incident_id, ref=ref, fingerprint=f"{rule}:{entity}", severity="P0",
        title=rule, entity=entity, alert_id=str(uuid.uuid4()), opened_at=clock.now(),
        respond_by=clock.now() + timedelta(minutes=15), resolve_by=clock.now() + timedelta(hours=4),
        labels={"alertname": rule, "entity": entity}), "incidents")
    return incident_id


def closed_case(capa, nats_url: str, clock: ManualClock, rule: str, entity: str) -> str:
    """An incident of `rule` on `entity`, resolved, analysed, verified and closed clear."""
    incident_id = opened(nats_url, clock, rule, entity, "P0-2026-12-001")
    publish(nats_url, IncidentResolved(
        incident_id=incident_id, ref="P0-2026-12-001", severity="P0", title=rule, entity=entity,
        by="Li Wei", at=clock.now(), fingerprint=f"{rule}:{entity}"), "incidents")
    api, bob = capa.client(RESPONDER_KEY), capa.client(PERSON_KEYS["bob"])
    capa_id = wait_until(lambda: next(iter(api.get("/v1/capa", params={
        "incident_id": incident_id}).json()["items"]), None), message="the case")["id"]
    for path, body in ((f"/v1/capa/{capa_id}/root-cause", {
            "by": "Zhang Min", "method": "5whys", "statement": "disk sized for last year",
            "whys": ["logs grew"]}),
            (f"/v1/capa/{capa_id}/actions", {
                "by": "Zhang Min", "kind": "corrective", "title": "rotate logs",
                "owner": "alice", "due_date": clock.now().date().isoformat(),
                "acceptance_criteria": "disk below 70%"}),
            (f"/v1/capa/{capa_id}/actions/A-1/complete", {"by": "alice", "evidence": "cron"})):
        api.post(path, json=body).raise_for_status()
    bob.post(f"/v1/capa/{capa_id}/actions/A-1/verify",
             json={"verifier": "bob", "effective": True}).raise_for_status()
    clock.advance(timedelta(days=7))
    wait_until(lambda: api.get(f"/v1/capa/{capa_id}").json()["status"] == "closed",
               message="the case closed by the window watch")
    return capa_id


def test_a_rule_recurring_on_other_entities_raises_a_systemic_problem(capa, nats_url, clock):
    rule = f"disk-full-{uuid.uuid4().hex[:6]}"
    first = closed_case(capa, nats_url, clock, rule, "store-001")
    clock.advance(timedelta(days=3))
    opened(nats_url, clock, rule, "store-002", "P0-2026-12-010")
    clock.advance(timedelta(days=3))
    last = opened(nats_url, clock, rule, "store-003", "P0-2026-12-020")

    api = capa.client(RESPONDER_KEY)
    systemic_id = SystemicProblem.create_id(rule, last)
    problem = wait_until(lambda: (lambda r: r.json() if r.status_code == 200 else None)(
        api.get(f"/v1/capa/systemic/{systemic_id}")), message="the systemic problem")
    assert [r["ref"] for r in problem["recurrences"]] == ["P0-2026-12-010", "P0-2026-12-020"]
    assert problem["entities"] == ["store-002", "store-003"] and first in problem["capa_ids"]
    message = wait_until(
        lambda: asyncio.run(_last(nats_url, CapaSystemicProblemRaised.type_name())),
        message="CapaSystemicProblemRaised on the CAPA stream")
    raised = CapaSystemicProblemRaised.model_validate(CloudEvent.from_bytes(message.data).data)
    assert (raised.systemic_id, raised.recurrences, raised.rule) == (str(systemic_id), 2, rule)
    # The incidents' ids too, in the order of their refs: the notifier finds its staffing.
    assert raised.incident_ids == [r["incident_id"] for r in problem["recurrences"]]
    assert api.get(f"/v1/capa/systemic/{uuid.uuid4()}").status_code == 404
