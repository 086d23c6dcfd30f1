"""Schedules in the notifier application (in memory): each change is a stored event with
actor, time and cause; overrides are checked against the ones already there; a deleted
schedule's name can be defined again; the engine's answers come from the stored schedule."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from icalendar import Calendar

from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.domain import key_id
from services.notifier.oncall import InvalidSchedule
from services.notifier.oncall.aggregate import Schedule, ScheduleExists, ScheduleNotFound
from services.notifier.oncall.calendar import feed
from services.notifier.sealing import Sealer
from shared.clock import ManualClock

UTC = timezone.utc
T0 = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
CAUSE = {"correlation_id": "corr-oncall", "causation_id": "req-1", "trace": {}}
SRE = {"name": "sre", "time_zone": "Europe/Berlin", "layers": [
    {"rotation": "weekly", "handoff_weekday": "Mon", "start": "2026-03-16T09:00",
     "members": ["li.na", "wang.wei"]}]}


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def app(store_env, clock):
    return NotifierApplication(store_env, clock, sealer=Sealer(Fernet.generate_key().decode()),
                               egress=EgressPolicy())


def test_a_schedule_is_defined_revised_overridden_and_deleted_as_stored_events(app, clock):
    view = app.define_schedule(SRE, actor="zhang.min", cause=CAUSE)
    assert view["id"] == key_id("schedule:sre")
    assert view["layers"][0]["handoff_weekday"] == "mon"  # written one way
    assert app.who_is_on_call("sre") == ["wang.wei"]  # the clock's now: week of 23 March

    clock.advance(timedelta(hours=1))
    override = app.add_override("sre", {"kind": "replace", "person": "wang.wei", "by": "chen.jie",
                                        "start": T0, "end": T0 + timedelta(days=1)},
                                actor="zhang.min", cause=CAUSE)
    assert app.who_is_on_call("sre") == ["chen.jie"]
    with pytest.raises(InvalidSchedule) as refused:  # wang.wei already has an override then
        app.add_override("sre", {"kind": "remove", "person": "wang.wei", "start": T0 + timedelta(hours=2),
                                 "end": T0 + timedelta(days=2)}, actor="zhang.min", cause=CAUSE)
    assert refused.value.field == "override"
    app.remove_override("sre", override["id"], actor="zhang.min", cause=CAUSE)
    assert app.who_is_on_call("sre") == ["wang.wei"]

    revised = {**SRE, "layers": [{**SRE["layers"][0], "members": ["chen.jie"]}]}
    app.revise_schedule("sre", revised, actor="li.na", cause=CAUSE)
    assert app.who_is_on_call("sre", T0) == ["chen.jie"]
    app.delete_schedule("sre", actor="li.na", cause=CAUSE)
    with pytest.raises(ScheduleNotFound):
        app.who_is_on_call("sre")

    events = app.stored_events(key_id("schedule:sre"))
    assert [type(e).__name__ for e in events] == [
        "Defined", "OverrideAdded", "OverrideRemoved", "Revised", "Deleted"]
    assert [(e.actor, e.cause) for e in events][-1] == ("li.na", CAUSE)
    assert events[1].at == T0 + timedelta(hours=1)  # time from the injected clock


def test_names_are_unique_until_deleted_and_revisions_that_change_nothing_store_nothing(app):
    app.define_schedule(SRE, actor="a", cause=CAUSE)
    with pytest.raises(ScheduleExists):
        app.define_schedule(SRE, actor="a", cause=CAUSE)
    app.revise_schedule("sre", {**SRE, "name": "ignored"}, actor="a", cause=CAUSE)
    assert len(app.stored_events(Schedule.create_id("sre"))) == 1
    app.delete_schedule("sre", actor="a", cause=CAUSE)
    app.define_schedule(SRE, actor="b", cause=CAUSE)
    assert type(app.stored_events(Schedule.create_id("sre"))[-1]).__name__ == "Restored"


@pytest.mark.parametrize("name", ["", " sre", "a/b", "x?y", "tab\there"])
def test_a_name_must_fit_in_a_url(app, name):
    with pytest.raises(InvalidSchedule) as refused:
        app.define_schedule({**SRE, "name": name}, actor="a", cause=CAUSE)
    assert refused.value.field == "name"


def test_the_feed_is_an_icalendar_document_of_the_shifts(app):
    view = app.define_schedule(SRE, actor="a", cause=CAUSE)
    found = app.schedule_shifts("sre", T0, T0 + timedelta(days=14))
    parsed = Calendar.from_ical(feed("On call: sre", [("sre", view["id"], s) for s in found], T0))
    events = parsed.walk("VEVENT")
    assert [(e.decoded("dtstart"), str(e["summary"])) for e in events] == [
        (T0, "On call: wang.wei (sre)"),
        (datetime(2026, 3, 30, 7, tzinfo=UTC), "On call: li.na (sre)"),
        (datetime(2026, 4, 6, 7, tzinfo=UTC), "On call: wang.wei (sre)")]
    assert len({str(e["uid"]) for e in events}) == 3
