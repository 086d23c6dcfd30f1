"""Re-trigger after an acknowledgement, in the domain: the ladder carries the limit, the
escalation pauses on an acknowledgement and resumes after the reminder."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.notifier.domain import (
    Escalation, EscalationNotDue, EscalationNotWaiting, EscalationPolicy, EscalationStatus,
    InvalidLadder, Ladder,
)
from services.notifier.domain.ladder import merge
from services.notifier.translate import to_contract

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "msg-1", "trace": {}}
STEPS = [{"targets": [{"kind": "channel", "ref": f"ch-{n}"}], "delay_seconds": 60}
         for n in range(3)]
TOLD = [{"target": "person:ana", "channel_id": "ch-0", "channel_name": "store",
         "person": "ana"}]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started(retrigger: float | None = 600) -> Escalation:
    ladder = Ladder.parse(STEPS, retrigger_seconds=retrigger)
    escalation = Escalation.start(incident={"incident_id": "inc-1", "ref": "P0-2026-11-001",
                                            "severity": "P0", "title": "db down",
                                            "entity": "db-1"},
                                  opened_at=T0, ladder=ladder, policy_ids=["p-1"],
                                  channel_names={}, at=T0, actor="notifier", cause=CAUSE)
    assert escalation is not None
    return escalation


def test_merged_ladders_take_the_shortest_retrigger_and_none_means_none():
    ladders = [Ladder.parse(STEPS, retrigger_seconds=r) for r in (None, 900, 600)]
    assert Ladder.parse(STEPS).retrigger_seconds is None
    assert merge(ladders).retrigger_seconds == 600
    assert merge(ladders[:1]).retrigger_seconds is None


@pytest.mark.parametrize("bad", [0, -5, float("inf"), True, "soon"])
def test_a_retrigger_that_is_not_a_positive_duration_is_refused_naming_the_field(bad):
    with pytest.raises(InvalidLadder, match="retrigger_after_seconds"):
        EscalationPolicy.normalised(name="p", severities=["P0"], steps=STEPS,
                                    retrigger_after_seconds=bad)


def test_without_a_retrigger_an_acknowledgement_stops_the_climb():
    escalation = started(retrigger=None)
    assert escalation.acknowledge("ana", at(10), "ana", CAUSE) is True
    assert escalation.status is EscalationStatus.STOPPED


def test_an_acknowledgement_pauses_and_the_reminder_resumes_where_it_paused():
    escalation = started()
    escalation.escalate(TOLD, at(60), "timer", CAUSE)  # step 1
    assert escalation.acknowledge("ana", at(70), "ana", CAUSE) is True
    assert (escalation.status, escalation.due_at) == (EscalationStatus.ACKNOWLEDGED, at(670))
    with pytest.raises(EscalationNotWaiting):
        escalation.due_step(at(700))  # no step fires while acknowledged
    with pytest.raises(EscalationNotDue):
        escalation.retrigger(TOLD, at(669), "timer", CAUSE)

    assert escalation.retrigger(TOLD, at(670), "timer", CAUSE) == "escalation.retrigger1"
    assert escalation.status is EscalationStatus.WAITING
    assert (escalation.next.step, escalation.due_at) == (2, at(730))
    with pytest.raises(EscalationNotWaiting):
        escalation.retrigger(TOLD, at(680), "other-replica", CAUSE)
    reminder = to_contract(escalation.collect_events()[-1])
    assert (reminder.reason, reminder.step, reminder.people) == (
        "escalation.retrigger1", 1, ["ana"])

    # Resolved later: the climb and any re-trigger end.
    assert escalation.acknowledge("ana", at(700), "ana", CAUSE) is True
    assert escalation.retrigger_reason == "escalation.retrigger2"
    assert escalation.stop("resolved by ana", at(710), "ana", CAUSE) is True
    assert escalation.acknowledge("ana", at(720), "ana", CAUSE) is False


def test_an_exhausted_ladder_still_reminds_once_acknowledged():
    escalation = started()
    escalation.escalate(TOLD, at(60), "timer", CAUSE)
    escalation.escalate(TOLD, at(120), "timer", CAUSE)
    assert escalation.status is EscalationStatus.ESCALATED
    escalation.acknowledge("ana", at(130), "ana", CAUSE)
    escalation.retrigger(TOLD, at(730), "timer", CAUSE)
    assert (escalation.status, escalation.next) == (EscalationStatus.ESCALATED, None)
