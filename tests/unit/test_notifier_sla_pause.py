"""An incident that awaits its requester (SLA paused) holds its chases and its support tier's
time box in the notifier (in-memory store, injected clock): nothing fires at the old times;
once it resumes each fires at its moved time — the new deadline the resumption carries, or
the old one plus the time held."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.notifier.raci.deadline import DeadlineHeld, DeadlineNotDue, DeadlineStatus, deadline_id
from services.notifier.support.ticket import SupportTicket
from shared.contracts import IncidentSlaPaused, IncidentSlaResumed
from tests.unit.test_notifier_domain import T0, seconds
from tests.unit.test_notifier_lifecycle import REF, Story, network
from tests.unit.test_notifier_support import desk, opened
from tests.unit.test_raci import _with_tracking, app  # noqa: F401


def pause(app, incident_id: str, seq: int) -> None:
    app.handle_incident_sla_paused(*_with_tracking(IncidentSlaPaused(
        incident_id=incident_id, ref=REF, reason="待用户确认", by="li.na",
        at=app.clock.now()), seq))


def resume(app, incident_id: str, seq: int, deadlines: dict) -> None:
    app.handle_incident_sla_resumed(*_with_tracking(IncidentSlaResumed(
        incident_id=incident_id, ref=REF, by="sun.hao", paused_since=T0 + seconds(600),
        paused_seconds=3600.0, deadlines=deadlines, at=app.clock.now()), seq))


def test_a_paused_incident_chases_nobody_and_resumes_its_chases_at_the_new_deadlines(app):
    network(app)
    story = Story(app, "inc-p1")
    story.open()  # respond within 1 h, resolve within 72 h
    respond_id = deadline_id("inc-p1", "respond")
    old = app.repository.get(respond_id)
    warn_at, due_at = old.warn_at, old.due_at
    app.clock.advance(seconds(600))
    pause(app, "inc-p1", 10)
    app.clock.advance(seconds(3600))  # past the old warning and deadline
    for at in (warn_at, due_at, app.clock.now()):
        with pytest.raises(DeadlineHeld):
            app.chase(respond_id, at)
    assert app.repository.get(respond_id).fired == []
    resume(app, "inc-p1", 11, {"respond": T0 + seconds(7200),
                               "resolve": T0 + seconds(75 * 3600)})
    moved = app.repository.get(respond_id)
    assert moved.due_at == T0 + seconds(7200) and moved.warn_at == warn_at + seconds(3600)
    assert app.repository.get(deadline_id("inc-p1", "resolve")).due_at == \
        T0 + seconds(75 * 3600)
    with pytest.raises(DeadlineNotDue):  # not at the old times any more
        app.chase(respond_id, moved.warn_at - seconds(1))
    app.chase(respond_id, moved.warn_at)
    app.chase(respond_id, moved.due_at)
    assert app.repository.get(respond_id).fired == ["warning", "deadline"]


def test_a_paused_incident_stays_in_its_tier_until_its_time_box_moved_by_the_pause(app):
    desk(app)
    app.handle_incident_opened(*_with_tracking(opened("inc-p2"), 1))
    box_id = deadline_id("inc-p2", "tier:0")  # L1: 30 min
    app.clock.advance(timedelta(seconds=600))
    pause(app, "inc-p2", 2)
    app.clock.advance(timedelta(seconds=3600))  # the old time box ran out meanwhile
    with pytest.raises(DeadlineHeld):
        app.chase(box_id, app.clock.now())
    assert app.get_or_none(SupportTicket.create_id("inc-p2")).level == 0
    resume(app, "inc-p2", 3, {})  # the resumption carries no tier time: moved by the hour held
    box = app.repository.get(box_id)
    assert box.due_at == T0 + seconds(1800 + 3600)
    with pytest.raises(DeadlineNotDue):
        app.chase(box_id, app.clock.now())
    app.clock.advance(timedelta(seconds=1800))
    for _ in ("warning", "deadline"):
        app.chase(box_id, app.clock.now())
    assert app.repository.get(box_id).status is DeadlineStatus.MET
    assert app.get_or_none(SupportTicket.create_id("inc-p2")).level == 1  # now in L2


def test_a_pause_delivered_twice_holds_once(app):
    network(app)
    story = Story(app, "inc-p3")
    story.open()
    app.clock.advance(seconds(600))
    pause(app, "inc-p3", 10)
    pause(app, "inc-p3", 11)
    respond = app.repository.get(deadline_id("inc-p3", "respond"))
    assert respond.held_since == T0 + seconds(600) and respond.version == 2
