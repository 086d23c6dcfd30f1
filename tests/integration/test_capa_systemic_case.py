"""A systemic problem as a case, over real NATS, PostgreSQL and HTTP on an injected clock:
five recurrences of a rule raise it; it is analysed, its action verified by someone other
than the owner, the rule stays away from every store for the window, a person checks it and
it closes (CapaSystemicProblemClosed on the bus). And a root cause of the same category and
problem type on the same store as a closed case is linked as a recurrence."""
from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from services.capa.domain.recurrence import SystemicProblem
from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from shared.contracts import (
    CapaSystemicProblemClosed, CloudEvent, IncidentOpened, IncidentResolved,
)
from tests.harness import API_KEYS, PERSON_KEYS, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_capa_effectiveness import T0, _last, publish
from tests.integration.test_capa_recurrence import closed_case, opened

pytestmark = pytest.mark.integration


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        effectiveness_windows="P0=7d,P1=7d", effectiveness_poll_seconds=0.2,
        capa_recurrence_period="90d", capa_systemic_recurrences=5,
        capa_systemic_window="10d"), clock=clock)).start()
    yield service
    service.stop()


def test_five_recurrences_raise_a_systemic_case_that_is_analysed_checked_and_closed(
        capa, nats_url, clock):
    rule = f"parts-late-{uuid.uuid4().hex[:6]}"
    first = closed_case(capa, nats_url, clock, rule, "store-001")
    for n in range(2, 7):
        clock.advance(timedelta(days=5))
        last = opened(nats_url, clock, rule, f"store-{n:03d}", f"P0-2026-12-{n:03d}")
    api, alice, bob = (capa.client(RESPONDER_KEY), capa.client(PERSON_KEYS["alice"]),
                       capa.client(PERSON_KEYS["bob"]))
    base = f"/v1/systemic-problems/{SystemicProblem.create_id(rule, last)}"
    problem = wait_until(lambda: (lambda r: r.json() if r.status_code == 200 else None)(
        api.get(base)), message="the systemic problem")
    assert len(problem["recurrences"]) == 5 and problem["status"] == "open"
    assert first in [c["id"] for c in problem["cases"]]
    assert problem["closure_blockers"] == ["no root cause is recorded",
                                           "no corrective action exists"]

    refused = api.post(f"{base}/root-cause", json={
        "by": "Wang HQ", "method": "fishbone", "statement": "one supplier for the region"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "category"
    api.post(f"{base}/root-cause", json={
        "by": "Wang HQ", "method": "fishbone", "statement": "one supplier for the region",
        "category": "material"}).raise_for_status()
    added = api.post(f"{base}/actions", json={
        "by": "Wang HQ", "kind": "corrective", "title": "second supplier", "owner": "alice",
        "due_date": clock.now().date().isoformat(), "acceptance_criteria": "two suppliers"})
    assert added.status_code == 201 and added.headers["Location"].endswith("/actions/A-1")
    api.post(f"{base}/actions/A-1/complete",
             json={"by": "alice", "evidence": "contract signed"}).raise_for_status()
    own = alice.post(f"{base}/actions/A-1/verify", json={"verifier": "alice", "effective": True})
    assert own.status_code == 409 and "needs someone else" in own.json()["detail"]
    watched = bob.post(f"{base}/actions/A-1/verify",
                       json={"verifier": "bob", "effective": True})
    assert watched.status_code == 200 and watched.json()["status"] == "effectiveness"
    wait_until(lambda: [r for r in api.get("/v1/systemic-problems", params={
        "status": "effectiveness"}).json()["items"] if r["rule"] == rule],
        message="the list shows it watched")

    early = bob.post(f"{base}/effectiveness-check",
                     json={"verifier": "bob", "text": "quiet", "evidence": "report"})
    assert early.status_code == 409
    assert "must not return on any entity for the 10-day window" in early.json()["detail"]

    clock.advance(timedelta(days=10))
    closed = bob.post(f"{base}/effectiveness-check", json={
        "verifier": "bob", "text": "no store late on parts for 10 days",
        "evidence": "delivery log"})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["closure_blockers"] == []
    message = wait_until(
        lambda: asyncio.run(_last(nats_url, CapaSystemicProblemClosed.type_name())),
        message="CapaSystemicProblemClosed on the CAPA stream")
    published = CapaSystemicProblemClosed.model_validate(
        CloudEvent.from_bytes(message.data).data)
    assert (published.rule, published.checked_by, published.actions) == (rule, "bob", 1)
    assert len(published.incident_ids) == 5
    [row] = wait_until(lambda: [r for r in api.get("/v1/systemic-problems", params={
        "status": "closed"}).json()["items"] if r["rule"] == rule], message="the list")
    assert row["recurrences"] == 5 and row["entities"] == [f"store-{n:03d}" for n in range(2, 7)]
    assert row["closed_at"] is not None
    # The KPIs count it: raised and closed in the period, open at neither end.
    period = {"from": T0.isoformat(), "to": (clock.now() + timedelta(days=1)).isoformat()}
    kpis = wait_until(lambda: (lambda k: k if k["systemic_problems"]["closed"] else None)(
        api.get("/v1/capa/kpis", params=period).json()), message="the KPIs")
    assert kpis["systemic_problems"] == {"raised": 1, "closed": 1, "open": 0}
    review = api.get("/v1/capa/kpis/review", params={**period, "format": "md"}).text
    assert "Systemic problems (上报总部): 1 raised and 1 closed in the period, 0 open." in review


def manual_case(capa, nats_url: str, clock: ManualClock, ref: str, entity: str,
                problem_type: str) -> tuple[str, dict]:
    """A manual incident with a problem type, resolved, and its root cause recorded."""
    incident_id = f"inc-{uuid.uuid4()}"
    now = clock.now()
    publish(nats_url, IncidentOpened(
        incident_id=incident_id, ref=ref, fingerprint="", severity="P1", title="配件到货严重超时",
        entity=entity, alert_id="", opened_at=now, respond_by=now + timedelta(hours=1),
        resolve_by=now + timedelta(hours=8), source="ticket", problem_type=problem_type,
        reporter="Zhou"), "incidents")
    publish(nats_url, IncidentResolved(
        incident_id=incident_id, ref=ref, severity="P1", title="配件到货严重超时", entity=entity,
        by="Li Wei", at=clock.now()), "incidents")
    api = capa.client(RESPONDER_KEY)
    capa_id = wait_until(lambda: next(iter(api.get("/v1/capa", params={
        "incident_id": incident_id}).json()["items"]), None), message="the case")["id"]
    return capa_id, api.post(f"/v1/capa/{capa_id}/root-cause", json={
        "by": "Zhang Min", "method": "fishbone", "statement": "supplier ships weekly",
        "category": "material"}).json()


def test_the_same_category_and_problem_type_on_a_store_is_linked_as_a_recurrence(
        capa, nats_url, clock):
    problem_type = f"parts-{uuid.uuid4().hex[:6]}"
    api, bob = capa.client(RESPONDER_KEY), capa.client(PERSON_KEYS["bob"])
    first, _ = manual_case(capa, nats_url, clock, "P1-2026-12-101", "store-042", problem_type)
    for path, body in ((f"/v1/capa/{first}/actions", {
            "by": "Zhang Min", "kind": "corrective", "title": "daily shipments",
            "owner": "alice", "due_date": clock.now().date().isoformat(),
            "acceptance_criteria": "parts within 2 days"}),
            (f"/v1/capa/{first}/actions/A-1/complete", {"by": "alice", "evidence": "contract"})):
        api.post(path, json=body).raise_for_status()
    bob.post(f"/v1/capa/{first}/actions/A-1/verify",
             json={"verifier": "bob", "effective": True}).raise_for_status()
    bob.post(f"/v1/capa/{first}/effectiveness-check", json={
        "verifier": "bob", "text": "parts on time", "evidence": "log"}).raise_for_status()

    clock.advance(timedelta(days=20))
    second, read = manual_case(capa, nats_url, clock, "P1-2027-01-102", "store-042",
                               problem_type)
    [linked] = read["recurrence"]["problem_recurrences"]
    assert (linked["capa_id"], linked["ref"]) == (first, "P1-2026-12-101")
    assert "20 days after it closed" in linked["reason"]
    assert api.get(f"/v1/capa/{first}").json()["status"] == "closed"
