"""On-call schedules on the running notifier (real NATS and PostgreSQL): a manager defines a
weekly rotation in Europe/Berlin and an override; over the week of the spring clock change the
API answers who is on call and why, lists the shifts with their exact hand-offs in UTC, and
serves the schedule's and the person's iCalendar feeds. Time is a ManualClock."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from icalendar import Calendar

from services.notifier.main import create_app
from services.notifier.settings import NotifierSettings
from shared.clock import ManualClock
from tests.harness import API_KEYS, NOTIFIER_SAFETY, VIEWER_KEY, RunningService, wait_until

pytestmark = pytest.mark.integration

UTC = timezone.utc
# Wednesday before Berlin's clocks go from 02:00 CET to 03:00 CEST (Sunday 29 March 2026).
NOW = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
SCHEDULE = {
    "name": "store-ops-weekly", "time_zone": "Europe/Berlin", "description": "门店运营值班",
    "layers": [{"name": "weekly", "rotation": "weekly", "handoff_time": "09:00",
                "handoff_weekday": "mon", "start": "2026-03-16T09:00",
                "members": ["li.na", "wang.wei", "chen.jie"]}]}


@pytest.fixture
def notifier(database_url, nats_url):
    service = RunningService(create_app(NotifierSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, **NOTIFIER_SAFETY),
        clock=ManualClock(NOW))).start()
    yield service
    service.stop()


def test_a_week_of_a_weekly_rotation_across_the_spring_change_with_an_override(notifier):
    with notifier.client() as manager:
        created = manager.post("/v1/schedules", json=SCHEDULE)
        assert created.status_code == 201, created.text
        override = manager.post(f"/v1/schedules/{SCHEDULE['name']}/overrides", json={
            "kind": "replace", "person": "wang.wei", "by": "zhao.min",
            "start": "2026-03-27T18:00:00+01:00", "end": "2026-03-28T18:00:00+01:00",
            "note": "wang.wei at the district review"})
        assert override.status_code == 201, override.text
        refused = manager.post(f"/v1/schedules/{SCHEDULE['name']}/overrides", json={
            "kind": "remove", "person": "wang.wei",
            "start": "2026-03-28T12:00:00+01:00", "end": "2026-03-29T12:00:00+02:00"})
        assert refused.status_code == 422 and "override" in refused.text

    with notifier.client(VIEWER_KEY) as viewer:
        now = viewer.get(f"/v1/schedules/{SCHEDULE['name']}/on-call")  # the clock's now
        assert now.status_code == 200, now.text
        assert [p["handle"] for p in now.json()["on_call"]] == ["wang.wei"]

        during = viewer.get(f"/v1/schedules/{SCHEDULE['name']}/on-call",
                            params={"at": "2026-03-28T10:00:00Z"}).json()
        assert [(p["handle"], p["why"]) for p in during["on_call"]] == [
            ("zhao.min", f"override {override.json()['id']} (replaces wang.wei)")]
        assert [p["handle"] for p in during["set_aside"]] == ["wang.wei"]

        shifts = viewer.get(f"/v1/schedules/{SCHEDULE['name']}/shifts", params={
            "start": "2026-03-23T08:00:00Z", "end": "2026-03-30T08:00:00Z"})
        assert shifts.status_code == 200, shifts.text
        assert [(s["start"], s["end"], s["handle"]) for s in shifts.json()["items"]] == [
            ("2026-03-23T08:00:00Z", "2026-03-27T17:00:00Z", "wang.wei"),
            ("2026-03-27T17:00:00Z", "2026-03-28T17:00:00Z", "zhao.min"),
            ("2026-03-28T17:00:00Z", "2026-03-30T07:00:00Z", "wang.wei"),
            # Monday 09:00 is now CEST: the hand-off moved from 08:00 to 07:00 UTC.
            ("2026-03-30T07:00:00Z", "2026-03-30T08:00:00Z", "chen.jie"),
        ]

        feed = viewer.get(f"/v1/schedules/{SCHEDULE['name']}/calendar.ics")
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        starts = [e.decoded("dtstart") for e in Calendar.from_ical(feed.content).walk("VEVENT")]
        assert datetime(2026, 3, 30, 7, tzinfo=UTC) in starts

        # The person's feed reads the read model to find their schedules.
        def zhao_feed() -> list:
            response = viewer.get("/v1/people/zhao.min/oncall.ics")
            assert response.status_code == 200, response.text
            return Calendar.from_ical(response.content).walk("VEVENT")

        [shift] = wait_until(zhao_feed, 20, "zhao.min's feed to show the override")
        assert (shift.decoded("dtstart"), shift.decoded("dtend")) == (
            datetime(2026, 3, 27, 17, tzinfo=UTC), datetime(2026, 3, 28, 17, tzinfo=UTC))

        listed = wait_until(lambda: viewer.get("/v1/schedules").json()["items"], 20,
                            "the schedule to be listed")
        assert [(s["name"], s["members"]) for s in listed if s["name"] == SCHEDULE["name"]] == [
            (SCHEDULE["name"], ["chen.jie", "li.na", "wang.wei"])]

        bad = viewer.get(f"/v1/schedules/{SCHEDULE['name']}/on-call", params={"at": "2026-03-28T10:00:00"})
        assert bad.status_code == 422 and "offset" in bad.text
        assert viewer.get("/v1/schedules/nobody/on-call").status_code == 404
