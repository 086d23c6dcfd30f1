"""A ladder step that falls due under a silence or maintenance window, in the domain: it is
held (recorded and published), still due, fires at the first look after the hold, and the
same hold is not recorded twice."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.notifier.domain import EscalationNotDue, EscalationNotWaiting, EscalationStatus
from services.notifier.domain.escalation import EscalationAlreadyHeld
from services.notifier.translate import to_contract
from tests.unit.test_notifier_retrigger import CAUSE, TOLD, at, started

REFIT = {"kind": "silence", "id": "5b0c6d3e-0000-4000-8000-000000000001", "name": "store refit",
         "until": at(3600), "by": None, "source_incident_id": None, "source_ref": None}


def test_a_step_due_under_a_silence_is_held_and_fires_after_it():
    escalation = started(retrigger=None)
    with pytest.raises(EscalationNotDue):
        escalation.hold(REFIT, at(3600), at(30), "worker", CAUSE)
    assert escalation.hold(REFIT, at(3600), at(60), "worker", CAUSE) == "escalation.step1"
    assert escalation.held == REFIT and escalation.status is EscalationStatus.WAITING
    with pytest.raises(EscalationAlreadyHeld):  # a second pass over a lagging read model
        escalation.hold(REFIT, at(3600), at(61), "worker", CAUSE)
    longer = {**REFIT, "until": at(7200)}  # another silence took over: recorded again
    escalation.hold(longer, at(7200), at(3600), "worker", CAUSE)

    fired = escalation.escalate(TOLD, at(7200), "worker", CAUSE)
    assert fired.reason == "escalation.step1" and escalation.held is None
    assert escalation.due_at == at(7200) + timedelta(seconds=60)  # the next step counts from here
    held = [e for e in escalation.collect_events() if type(e).__name__ == "Held"]
    assert [(e.step, e.reason, e.until) for e in held] == [
        (1, "escalation.step1", at(3600)), (1, "escalation.step1", at(7200))]
    fact = to_contract(held[0])
    assert (fact.kind, fact.hold_id, fact.name, fact.until) == (
        "silence", REFIT["id"], "store refit", at(3600))


def test_a_stopped_ladder_is_not_held():
    escalation = started(retrigger=None)
    escalation.hold(REFIT, at(3600), at(60), "worker", CAUSE)
    escalation.acknowledge("ana", at(120), "ana", CAUSE)
    with pytest.raises(EscalationNotWaiting):
        escalation.hold(REFIT, at(3600), at(3600), "worker", CAUSE)


def test_a_retrigger_due_under_a_silence_is_held_and_reminds_after_it():
    escalation = started(retrigger=600)
    escalation.acknowledge("ana", at(10), "ana", CAUSE)  # the re-trigger is due at 610
    reason = escalation.hold(REFIT, at(3600), at(610), "worker", CAUSE)
    assert reason == "escalation.retrigger1" and escalation.status is EscalationStatus.ACKNOWLEDGED
    assert escalation.retrigger(TOLD, at(3600), "worker", CAUSE) == "escalation.retrigger1"
    assert escalation.held is None and escalation.status is EscalationStatus.WAITING
