"""A reopened incident is chased again. A P0 on 深圳宝安店 runs late (its Responsible warned),
is acknowledged and resolved, then reopened: the respond and resolve chases start over from
the reopening, the Responsible is warned again at 80% of the new respond time and the
Accountable told at its deadline, as at the opening. Real NATS and PostgreSQL; the clock is
a ManualClock shared with the notifier."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.contracts import IncidentAcknowledged, IncidentReopened, IncidentResolved
from tests.harness import wait_until
from tests.integration.test_notifier_raci import deadline, store_network, told
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, incident_opened, notifier, publish, receiver,
)

pytestmark = pytest.mark.integration


def test_a_reopened_incident_is_chased_again_from_its_reopening(
        notifier, receiver, nats_url, clock):
    store_network(notifier, receiver)  # P0: R 运营专家 + 店长, A 战区负责人
    incident = incident_opened(clock).model_copy(update={"entity": "store-017"})
    iid, ref = incident.incident_id, incident.ref
    publish(nats_url, incident)
    wait_until(lambda: deadline(notifier, iid, "respond"), WAIT, "the incident's deadlines")
    clock.advance(timedelta(minutes=12))  # 80% of the quarter hour: the first warning
    wait_until(lambda: told(receiver, iid, "late.respond"), WAIT, "the first warning")

    publish(nats_url, IncidentAcknowledged(incident_id=iid, ref=ref, by="li.na",
                                           at=clock.now()))
    publish(nats_url, IncidentResolved(
        incident_id=iid, ref=ref, severity="P0", title=incident.title, entity="store-017",
        by="li.na", at=clock.now()))
    wait_until(lambda: (deadline(notifier, iid, "resolve") or {}).get("status") == "met", WAIT,
               "service restored")
    assert deadline(notifier, iid, "respond")["status"] == "met"

    clock.advance(timedelta(hours=2))
    reopened_at = clock.now()
    publish(nats_url, IncidentReopened(
        incident_id=iid, ref=ref, severity="P0", reason="又卡了", by="zhao.lei",
        was="planning", status="investigating", at=reopened_at,
        respond_by=reopened_at + timedelta(minutes=15),
        resolve_by=reopened_at + timedelta(hours=4)))
    wait_until(lambda: (deadline(notifier, iid, "respond") or {}).get("status") == "waiting",
               WAIT, "the respond chase set again")
    respond, resolve = deadline(notifier, iid, "respond"), deadline(notifier, iid, "resolve")
    assert respond["fired"] == [] and respond["next_phase"] == "warning"
    assert respond["due_at"][:16] == (reopened_at + timedelta(minutes=15)).isoformat()[:16]
    assert resolve["status"] == "waiting"
    assert resolve["due_at"][:16] == (reopened_at + timedelta(hours=4)).isoformat()[:16]

    clock.advance(timedelta(minutes=12))  # 80% of the new quarter hour: warned again
    wait_until(lambda: len(told(receiver, iid, "late.respond.warning")) == 4, WAIT,
               "the second warning")
    clock.advance(timedelta(minutes=3))  # its deadline: the Accountable
    wait_until(lambda: told(receiver, iid, "late.respond.deadline"), WAIT, "the Accountable")
    assert told(receiver, iid, "late.respond") == [
        ("late.respond.deadline", "zhao.lei"),
        ("late.respond.warning", "li.na"), ("late.respond.warning", "li.na"),
        ("late.respond.warning", "zhou.min"), ("late.respond.warning", "zhou.min")]

    # Acknowledged again: the new respond chase is met, the resolve chase waits on.
    publish(nats_url, IncidentAcknowledged(incident_id=iid, ref=ref, by="zhou.min",
                                           at=clock.now()))
    wait_until(lambda: deadline(notifier, iid, "respond")["status"] == "met", WAIT,
               "the new response")
    assert deadline(notifier, iid, "resolve")["status"] == "waiting"
