"""The on-call engine: rotations hand off on the local clock across daylight-saving changes,
the highest layer with someone wins, restrictions leave a layer empty outside its windows,
overrides add, remove and replace, and bad definitions are refused naming the field."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from services.notifier.oncall import InvalidSchedule, explain, on_call, plan, shifts

UTC = timezone.utc
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def layer(members, rotation="daily", start="2026-03-01T09:00", **fields) -> dict:
    return {"rotation": rotation, "handoff_time": "09:00", "start": start, "members": members,
            **fields}


def schedule(*layers, zone="Europe/Berlin", overrides=()) -> object:
    return plan({"name": "sre", "time_zone": zone, "layers": list(layers)}, list(overrides))


def handoffs(p, start, end) -> list[tuple[datetime, str]]:
    return [(s.start, s.handle) for s in shifts(p, start, end)]


# -- the story: a week of a weekly rotation across a DST change, with an override ---------------

def test_a_weekly_rotation_across_the_spring_change_with_an_override():
    # Berlin moves its clocks from 02:00 CET to 03:00 CEST on Sunday 29 March 2026.
    p = schedule(layer(["li.na", "wang.wei", "chen.jie"], rotation="weekly",
                       handoff_weekday="mon", start="2026-03-16T09:00"),
                 overrides=[{"id": "o1", "kind": "replace", "person": "wang.wei", "by": "zhao.min",
                             "start": "2026-03-27T18:00:00+01:00", "end": "2026-03-28T18:00:00+01:00"}])
    week = shifts(p, utc(2026, 3, 23, 8), utc(2026, 3, 30, 8))
    assert [(s.start, s.end, s.handle, s.source.kind) for s in week] == [
        # Monday 09:00 CET is 08:00 UTC …
        (utc(2026, 3, 23, 8), utc(2026, 3, 27, 17), "wang.wei", "layer"),
        (utc(2026, 3, 27, 17), utc(2026, 3, 28, 17), "zhao.min", "override"),
        (utc(2026, 3, 28, 17), utc(2026, 3, 30, 7), "wang.wei", "layer"),
        # … and the next Monday 09:00 is CEST, 07:00 UTC: the week was an hour shorter.
        (utc(2026, 3, 30, 7), utc(2026, 3, 30, 8), "chen.jie", "layer"),
    ]
    assert on_call(p, utc(2026, 3, 30, 6, 59)) == ["wang.wei"]
    assert on_call(p, utc(2026, 3, 30, 7, 0)) == ["chen.jie"]
    answer = explain(p, utc(2026, 3, 28, 12))
    assert [(o.handle, o.source.describe()) for o in answer.on_call] == [
        ("zhao.min", "override o1 (replaces wang.wei)")]
    assert [o.handle for o in answer.set_aside] == ["wang.wei"]


def test_a_daily_handoff_stays_at_nine_local_in_new_york_in_autumn():
    # New York sets clocks back from 02:00 EDT to 01:00 EST on Sunday 1 November 2026.
    p = schedule(layer(["a", "b"], start="2026-10-30T09:00"), zone="America/New_York")
    found = shifts(p, utc(2026, 10, 30, 13), utc(2026, 11, 3, 14))
    assert [(s.start, s.end - s.start, s.handle) for s in found] == [
        (utc(2026, 10, 30, 13), timedelta(hours=24), "a"),
        (utc(2026, 10, 31, 13), timedelta(hours=25), "b"),  # holds the repeated hour
        (utc(2026, 11, 1, 14), timedelta(hours=24), "a"),
        (utc(2026, 11, 2, 14), timedelta(hours=24), "b"),
    ]


# -- hand-offs on the clock -----------------------------------------------------------------------

def test_a_handoff_inside_the_skipped_hour_happens_when_the_clocks_jump():
    p = schedule(layer(["a", "b"], start="2026-03-27T02:30", handoff_time="02:30"))
    assert [t for t, _ in handoffs(p, utc(2026, 3, 27), utc(2026, 3, 31))] == [
        utc(2026, 3, 27, 1, 30), utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1, 0),  # 02:30 never happens: the hand-off is at the jump (03:00 CEST)
        utc(2026, 3, 30, 0, 30)]


def test_a_handoff_in_the_repeated_hour_happens_the_first_time_the_clock_reads_it():
    p = schedule(layer(["a", "b"], start="2026-10-24T02:30", handoff_time="02:30"))
    assert [t for t, _ in handoffs(p, utc(2026, 10, 24), utc(2026, 10, 27))] == [
        utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    # The second time the clock reads 02:40 it is still b's turn, not a's again.
    assert on_call(p, utc(2026, 10, 25, 1, 40)) == ["b"]


def test_hourly_turns_stay_on_the_hour_and_the_skipped_hour_has_nobody_s_turn():
    p = schedule(layer(["a", "b", "c"], rotation="hourly", start="2026-03-29T00:00",
                       handoff_time="00:00"))
    found = handoffs(p, utc(2026, 3, 28, 23), utc(2026, 3, 29, 3))
    # 00:00, 01:00 CET, then 03:00 CEST (02:00 never happens: c's turn lasts nothing).
    assert found == [(utc(2026, 3, 28, 23), "a"), (utc(2026, 3, 29, 0), "b"),
                     (utc(2026, 3, 29, 1), "a"), (utc(2026, 3, 29, 2), "b")]


def test_custom_shifts_and_several_shifts_per_turn():
    twelve = schedule(layer(["day", "night"], rotation="custom", shift_hours=12,
                            start="2026-06-01T08:00", handoff_time="08:00"), zone="Asia/Shanghai")
    assert handoffs(twelve, utc(2026, 6, 1), utc(2026, 6, 2, 1)) == [
        (utc(2026, 6, 1, 0), "day"), (utc(2026, 6, 1, 12), "night"), (utc(2026, 6, 2, 0), "day")]
    two_days = schedule(layer(["a", "b"], shifts_per_turn=2, start="2026-06-01T09:00"),
                        zone="Asia/Shanghai")
    assert handoffs(two_days, utc(2026, 6, 1, 1), utc(2026, 6, 6)) == [
        (utc(2026, 6, 1, 1), "a"), (utc(2026, 6, 3, 1), "b"), (utc(2026, 6, 5, 1), "a")]


def test_a_rotation_starting_between_handoffs_gives_the_first_member_the_rest_of_the_turn():
    p = schedule(layer(["a", "b"], rotation="weekly", handoff_weekday="mon",
                       start="2026-06-03T15:00"), zone="UTC")
    assert on_call(p, utc(2026, 6, 3, 14, 59)) == []
    assert handoffs(p, utc(2026, 6, 1), utc(2026, 6, 16)) == [
        (utc(2026, 6, 3, 15), "a"), (utc(2026, 6, 8, 9), "b"), (utc(2026, 6, 15, 9), "a")]


# -- layers and restrictions ----------------------------------------------------------------------

def test_the_highest_layer_with_someone_on_call_wins_and_restrictions_leave_gaps():
    office = layer(["desk"], rotation="weekly", handoff_weekday="mon",
                   restrictions=[{"days": WEEKDAYS, "start": "09:00", "end": "18:00"}])
    p = schedule(layer(["night.a", "night.b"], start="2026-06-01T09:00"), office, zone="UTC")
    assert on_call(p, utc(2026, 6, 3, 10)) == ["desk"]      # Wednesday office hours
    assert on_call(p, utc(2026, 6, 3, 19)) == ["night.a"]   # evening: the lower layer
    assert on_call(p, utc(2026, 6, 6, 10)) == ["night.b"]   # Saturday
    day = shifts(p, utc(2026, 6, 3, 0), utc(2026, 6, 4, 0))
    assert [(s.start.hour, s.end.hour, s.handle) for s in day] == [
        (0, 9, "night.b"), (9, 18, "desk"), (18, 0, "night.a")]


def test_a_weekend_window_runs_over_the_end_of_the_week_and_is_one_shift():
    weekend = layer(["w"], restrictions=[{"start_day": "fri", "start": "18:00",
                                          "end_day": "mon", "end": "09:00"}],
                    rotation="weekly", handoff_weekday="fri", handoff_time="18:00")
    p = schedule(weekend, zone="UTC")
    assert on_call(p, utc(2026, 6, 8, 8, 59)) == ["w"]  # Monday morning
    assert on_call(p, utc(2026, 6, 8, 9)) == []
    assert [(s.start, s.end) for s in shifts(p, utc(2026, 6, 1), utc(2026, 6, 15))] == [
        (utc(2026, 6, 1), utc(2026, 6, 1, 9)), (utc(2026, 6, 5, 18), utc(2026, 6, 8, 9)),
        (utc(2026, 6, 12, 18), utc(2026, 6, 15))]


def test_a_window_is_read_on_the_local_clock_across_the_change():
    p = schedule(layer(["desk"], restrictions=[{"start": "09:00", "end": "18:00"}]))
    assert [(s.start, s.end) for s in shifts(p, utc(2026, 3, 28), utc(2026, 3, 31))] == [
        (utc(2026, 3, 28, 8), utc(2026, 3, 28, 17)), (utc(2026, 3, 29, 7), utc(2026, 3, 29, 16)),
        (utc(2026, 3, 30, 7), utc(2026, 3, 30, 16))]


# -- overrides --------------------------------------------------------------------------------------

def test_add_remove_and_replace_apply_on_top_of_the_layers():
    p = schedule(layer(["a", "b"]), zone="UTC", overrides=[
        {"id": "add", "kind": "add", "person": "x", "start": "2026-06-02T00:00Z", "end": "2026-06-03T00:00Z"},
        {"id": "rm", "kind": "remove", "person": "b", "start": "2026-06-04T10:00Z", "end": "2026-06-04T12:00Z"},
        {"id": "rp", "kind": "replace", "person": "b", "by": "y", "start": "2026-06-02T12:00Z", "end": "2026-06-02T13:00Z"},
    ])
    assert on_call(p, utc(2026, 6, 2, 12, 30)) == ["y", "x"]
    assert on_call(p, utc(2026, 6, 4, 11)) == []
    assert explain(p, utc(2026, 6, 4, 11)).set_aside[0].handle == "b"
    # A replacement of someone who is not on call changes nothing.
    assert on_call(p, utc(2026, 6, 2, 8)) == ["a", "x"]


def test_every_instant_agrees_with_the_shifts():
    p = schedule(layer(["a", "b", "c"], rotation="hourly", handoff_time="00:30"),
                 layer(["d", "e"], rotation="weekly", handoff_weekday="wed",
                       restrictions=[{"days": WEEKDAYS, "start": "08:00", "end": "20:00"}]),
                 layer(["f"], rotation="custom", shift_hours=7,
                       restrictions=[{"start_day": "sat", "start": "22:00", "end_day": "sun", "end": "02:30"}]),
                 overrides=[{"id": f"o{i}", "kind": kind, "person": person, "by": by,
                             "start": f"2026-03-{d:02d}T10:00+01:00", "end": f"2026-03-{d:02d}T15:00+01:00"}
                            for i, (d, kind, person, by) in enumerate([
                                (26, "add", "z", None), (27, "replace", "d", "q"), (29, "remove", "a", None)])])
    start, end = utc(2026, 3, 25), utc(2026, 4, 2)
    found = shifts(p, start, end)
    rng = random.Random(7)
    for _ in range(2000):
        at = start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
        expected = sorted(s.handle for s in found if s.start <= at < s.end)
        assert sorted(on_call(p, at)) == expected, at


# -- refusals that name the field -------------------------------------------------------------------

@pytest.mark.parametrize("definition, overrides, field", [
    ({"time_zone": "Mars/Olympus", "layers": [layer(["a"])]}, [], "time_zone"),
    ({"time_zone": "../etc/passwd", "layers": [layer(["a"])]}, [], "time_zone"),
    ({"time_zone": "UTC", "layers": []}, [], "layers"),
    ({"time_zone": "UTC", "layers": [layer([])]}, [], "layers[0].members"),
    ({"time_zone": "UTC", "layers": [layer(["a", " "])]}, [], "layers[0].members[1]"),
    ({"time_zone": "UTC", "layers": [layer(["a"], rotation="custom", shift_hours=0)]}, [], "layers[0].shift_hours"),
    ({"time_zone": "UTC", "layers": [layer(["a"], rotation="custom", shift_hours=-4)]}, [], "layers[0].shift_hours"),
    ({"time_zone": "UTC", "layers": [layer(["a"], shifts_per_turn=0)]}, [], "layers[0].shifts_per_turn"),
    ({"time_zone": "UTC", "layers": [layer(["a"], rotation="yearly")]}, [], "layers[0].rotation"),
    ({"time_zone": "UTC", "layers": [layer(["a"], start="2026-03-01T09:00+01:00")]}, [], "layers[0].start"),
    ({"time_zone": "UTC", "layers": [layer(["a"], handoff_time="9")]}, [], "layers[0].handoff_time"),
    ({"time_zone": "UTC", "layers": [layer(["a"], restrictions=[{"start": "18:00", "end": "09:00"}])]},
     [], "layers[0].restrictions[0].end"),
    ({"time_zone": "UTC", "layers": [layer(["a"], restrictions=[
        {"days": ["mon"], "start": "09:00", "end": "12:00"},
        {"days": ["mon"], "start": "11:00", "end": "13:00"}])]}, [], "layers[0].restrictions[1]"),
    ({"time_zone": "UTC", "layers": [layer(["a"], restrictions=[
        {"start_day": "fri", "start": "18:00", "end_day": "mon", "end": "09:00"},
        {"days": ["mon"], "start": "08:00", "end": "10:00"}])]}, [], "layers[0].restrictions[1]"),
    ({"time_zone": "UTC", "layers": [layer(["a"]), layer(["b"], name="layer 1")]}, [], "layers[1].name"),
    ({"time_zone": "UTC", "layers": [layer(["a"])]},
     [{"kind": "add", "person": "a", "start": "2026-06-02T00:00Z", "end": "2026-06-02T00:00Z"}], "overrides[0].end"),
    ({"time_zone": "UTC", "layers": [layer(["a"])]},
     [{"kind": "add", "person": "a", "start": "2026-06-02T00:00Z", "end": "2026-06-03T00:00Z"},
      {"kind": "remove", "person": "a", "start": "2026-06-02T12:00Z", "end": "2026-06-04T00:00Z"}], "overrides[1]"),
    ({"time_zone": "UTC", "layers": [layer(["a"])]},
     [{"kind": "replace", "person": "a", "start": "2026-06-02T00:00Z", "end": "2026-06-03T00:00Z"}], "overrides[0].by"),
])
def test_bad_definitions_are_refused_naming_the_field(definition, overrides, field):
    with pytest.raises(InvalidSchedule) as refused:
        plan({"name": "bad", **definition}, overrides)
    assert refused.value.field == field


def test_a_member_listed_twice_in_a_row_holds_two_turns_as_one_shift():
    p = schedule(layer(["a", "a", "b"]), zone="UTC")
    assert handoffs(p, utc(2026, 3, 1, 9), utc(2026, 3, 5, 9)) == [
        (utc(2026, 3, 1, 9), "a"), (utc(2026, 3, 3, 9), "b"), (utc(2026, 3, 4, 9), "a")]
    assert explain(p, utc(2026, 3, 2, 10)).on_call[0].since == utc(2026, 3, 2, 9)
