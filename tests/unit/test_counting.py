"""Counted events become samples whose value is the count so far in the entity's window:
windows start at local midnight of the metric's zone, the count goes on from the latest
stored sample, same-instant events are all counted, and a window already passed refuses."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.detector.counting import EventBatch, check_kinds, counted_batch, rollovers
from services.detector.rules import MetricSpec

SHANGHAI = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 6, 23, 0, tzinfo=SHANGHAI).timestamp()
COMPLAINTS = MetricSpec.model_validate({"name": "store.complaints",
                                        "count": {"window": "1d", "time_zone": "Asia/Shanghai"}})
CATALOGUE = {"store.complaints": COMPLAINTS, "store.nps": MetricSpec(name="store.nps")}


def events(*spec: tuple[str, datetime | None]) -> EventBatch:
    return EventBatch.model_validate({"events": [
        {"kind": "store.complaints", "entity": entity, "at": at, "attributes": {"size": "large"}}
        for entity, at in spec]})


def at(hour: int, minute: int = 0, day: int = 6) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


def counts(batch: EventBatch, latest=None) -> tuple[list[tuple[str, float]], list[dict]]:
    samples, origin, refused = counted_batch(batch, {"store.complaints": COMPLAINTS},
                                             latest or {}, NOW)
    return [(samples.keys[k][1], v) for k, v in zip(samples.key_of, samples.values)], refused


def test_each_event_is_the_count_so_far_per_entity_and_local_day():
    # 07:30 in Shanghai is 23:30 UTC the day before: still the same local day as 09:00.
    batch = events(("sz", at(9)), ("sz", at(7, 30)), ("gz", at(10)), ("sz", at(22)),
                   ("sz", at(0, 30, day=7)))
    assert counts(batch)[0] == [("sz", 1), ("sz", 2), ("gz", 1), ("sz", 3), ("sz", 1)]


def test_the_count_goes_on_from_the_latest_stored_sample_of_the_same_window():
    latest = {("store.complaints", "sz"): (at(8).timestamp(), 4.0),
              ("store.complaints", "gz"): (at(8, day=5).timestamp(), 9.0)}
    samples, origin, _ = counted_batch(events(("sz", at(9)), ("gz", at(9))),
                                       {"store.complaints": COMPLAINTS}, latest, NOW)
    assert list(samples.values) == [5.0, 1.0] and origin == [0, 1]


def test_events_at_the_same_instant_or_late_within_the_window_are_all_counted():
    latest = {("store.complaints", "sz"): (at(12).timestamp(), 2.0)}
    samples, _, refused = counted_batch(events(("sz", at(9)), ("sz", at(9))),
                                        {"store.complaints": COMPLAINTS}, latest, NOW)
    assert list(samples.values) == [3.0, 4.0] and not refused
    assert samples.ts[0] > at(12).timestamp() and samples.ts[1] > samples.ts[0]


def test_an_event_of_a_window_already_passed_is_refused_by_index():
    latest = {("store.complaints", "sz"): (at(9).timestamp(), 1.0)}
    assert counts(events(("sz", at(10, day=5)), ("sz", at(10))), latest) == (
        [("sz", 2.0)], [{"index": 0, "reason": "window_closed"}])


def test_unknown_kinds_and_future_times_refuse_the_batch_naming_the_field():
    batch = EventBatch.model_validate({"events": [
        {"kind": "store.nps", "entity": "sz"}, {"kind": "store.complaints", "entity": "sz",
                                                 "at": at(12, day=7)}]})
    with pytest.raises(RequestValidationError) as caught:
        check_kinds(batch, CATALOGUE, NOW)
    errors = {e["loc"][1:]: e["msg"] for e in caught.value.errors()}
    assert errors[("events", 0, "kind")].startswith(
        "'store.nps' is not a counted metric; declare it with `count: {window: 1d}`")
    assert errors[("events", 1, "at")].startswith("lies in the future")


def test_a_counted_metric_needs_a_known_time_zone():
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        MetricSpec.model_validate({"name": "m", "count": {"window": "1d", "time_zone": "Mars/Base"}})


def test_a_window_that_ended_with_a_count_closes_with_zero_at_the_next_local_midnight():
    latest = {("store.complaints", "sz"): (at(21, day=5).timestamp(), 6.0),   # yesterday
              ("store.complaints", "gz"): (at(9).timestamp(), 2.0),           # today: open
              ("store.complaints", "bj"): (at(0, day=6).timestamp(), 0.0),    # closed already
              ("store.nps", "sz"): (at(9, day=1).timestamp(), 40.0)}          # not counted
    closing = rollovers({"store.complaints": COMPLAINTS}, latest, NOW)
    assert [k[:2] for k in closing.keys] == [("store.complaints", "sz")]
    assert list(closing.ts) == [at(0).timestamp()] and list(closing.values) == [0.0]
