"""iCalendar feeds of on-call shifts (RFC 5545, written by the `icalendar` library): one per
schedule, and one per person over every schedule that can put them on call."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from icalendar import Calendar, Event

from services.notifier.oncall.model import Shift

PRODID = "-//closedloop//on-call//EN"


def feed(title: str, entries: list[tuple[str, UUID, Shift]], stamp: datetime) -> bytes:
    """`entries` are (schedule name, schedule id, shift). The UID of a shift stays the same
    while the shift does, so calendar clients update rather than duplicate it."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", title)
    for schedule, schedule_id, shift in entries:
        event = Event()
        key = f"{shift.handle}|{shift.start.isoformat()}|{shift.source.kind}|{shift.source.name}"
        event.add("uid", f"{uuid5(schedule_id, key)}@closedloop")
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", f"On call: {shift.handle} ({schedule})")
        event.add("description", f"{shift.handle} is on call in schedule {schedule} by "
                                 f"{shift.source.describe()}.")
        event.add("categories", ["on-call"])
        calendar.add_component(event)
    return calendar.to_ical()
