"""Re-trigger: an incident acknowledged but not resolved within its policy's limit reminds the
one who acknowledged (or those told first, when that person cannot be reached) and the
ladder resumes where it paused. Real NATS and PostgreSQL; time is a ManualClock."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.contracts import EscalationTriggered, IncidentAcknowledged, IncidentResolved
from tests.harness import wait_until
from tests.integration.test_notifier_ladder import channels, reasons
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    SECRET, WAIT, clock, escalation, incident_opened, notifier, publish, published, receiver,
)

pytestmark = pytest.mark.integration


def retriggering_ladder(service, ids: dict[str, str], retrigger: float) -> dict:
    with service.client() as client:
        created = client.post("/v1/policies", json={
            "name": "store-red", "severities": ["P0"], "retrigger_after_seconds": retrigger,
            "steps": [{"targets": [{"kind": "channel", "ref": ids[name]}], "delay_seconds": 60}
                      for name in ("store", "region", "hq")]})
    assert created.status_code == 201, created.text
    return created.json()


def acknowledge(nats_url, clock, incident, by: str = "li.na") -> None:
    publish(nats_url, IncidentAcknowledged(incident_id=incident.incident_id, ref=incident.ref,
                                           by=by, at=clock.now()))


def status_is(notifier, incident, status: str) -> dict | None:
    found = escalation(notifier, incident.incident_id)
    return found if found and found["status"] == status else None


def test_an_acknowledged_incident_left_unresolved_reminds_and_resumes(notifier, nats_url,
                                                                      clock, receiver):
    ids = channels(notifier, receiver, "store", "region", "hq")
    policy = retriggering_ladder(notifier, ids, retrigger=600)
    assert policy["retrigger_after_seconds"] == 600
    incident = incident_opened(clock)
    publish(nats_url, incident)
    wait_until(lambda: escalation(notifier, incident.incident_id), WAIT, "the timer")
    clock.advance(60)
    wait_until(lambda: reasons(receiver, "/region", incident.incident_id), WAIT, "step 1")
    wait_until(lambda: escalation(notifier, incident.incident_id)["step"] == 1, WAIT,
               "step 1 recorded")

    acknowledge(nats_url, clock, incident)
    paused = wait_until(lambda: status_is(notifier, incident, "acknowledged"), WAIT,
                        "the acknowledgement to pause the climb")
    assert datetime.fromisoformat(paused["due_at"]) == clock.now() + timedelta(seconds=600)
    clock.advance(599)  # not yet: neither the reminder nor step 2
    clock.advance(1)
    # li.na is nobody the organisation knows: those told first are reminded.
    wait_until(lambda: "escalation.retrigger1" in reasons(receiver, "/store",
                                                          incident.incident_id),
               WAIT, "the reminder")
    assert reasons(receiver, "/hq", incident.incident_id) == []
    wait_until(lambda: status_is(notifier, incident, "waiting"), WAIT, "the climb to resume")
    clock.advance(60)
    wait_until(lambda: reasons(receiver, "/hq", incident.incident_id), WAIT, "step 2")
    assert reasons(receiver, "/hq", incident.incident_id) == ["escalation.step2"]
    triggered = wait_until(
        lambda: (t := published(nats_url, EscalationTriggered, incident.incident_id))
        and len(t) == 3 and t, WAIT, "three EscalationTriggered")
    assert [t.data["reason"] for t in triggered] == [
        "escalation.step1", "escalation.retrigger1", "escalation.step2"]
    [why] = triggered[1].data["unresolved"]  # the reminder says whom it could not reach
    assert why.startswith("person:li.na: "), why

    # Acknowledged again after the reminder: paused again, and the next reminder is its own.
    acknowledge(nats_url, clock, incident)
    wait_until(lambda: status_is(notifier, incident, "acknowledged"), WAIT, "paused again")
    clock.advance(600)
    wait_until(lambda: "escalation.retrigger2" in reasons(receiver, "/store",
                                                          incident.incident_id),
               WAIT, "the second reminder")
    wait_until(lambda: status_is(notifier, incident, "escalated"), WAIT,
               "nothing left to climb")


def test_resolving_before_the_limit_ends_it_without_a_reminder(notifier, nats_url, clock,
                                                               receiver):
    ids = channels(notifier, receiver, "store", "region", "hq")
    retriggering_ladder(notifier, ids, retrigger=600)
    incident = incident_opened(clock)
    publish(nats_url, incident)
    wait_until(lambda: escalation(notifier, incident.incident_id), WAIT, "the timer")
    acknowledge(nats_url, clock, incident)
    wait_until(lambda: status_is(notifier, incident, "acknowledged"), WAIT, "paused")
    publish(nats_url, IncidentResolved(
        incident_id=incident.incident_id, ref=incident.ref, severity="P0",
        title=incident.title, entity=incident.entity, by="li.na", at=clock.now()))
    wait_until(lambda: status_is(notifier, incident, "stopped"), WAIT, "resolved stops it")
    clock.advance(3600)
    # A later incident's step 1 firing proves the worker ran past this one's due time.
    other = incident_opened(clock)
    publish(nats_url, other)
    wait_until(lambda: escalation(notifier, other.incident_id), WAIT, "the other timer")
    clock.advance(60)
    wait_until(lambda: reasons(receiver, "/region", other.incident_id), WAIT, "other step 1")
    assert reasons(receiver, "/store", incident.incident_id) == ["incident.opened"]
    assert reasons(receiver, "/region", incident.incident_id) == []
