"""One layer on its own: whose turn it is and whether its restriction windows are open, at an
instant or over a range. Hand-offs are local clock readings (anchor + k turns, added on the
clock face), so a 09:00 hand-off stays at 09:00 across a daylight-saving change and the turn
that contains the change is an hour shorter or longer."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.notifier.oncall.model import WEEK_MINUTES, Layer
from services.notifier.oncall.wallclock import instant, reading

Held = tuple[str, datetime, datetime]  # (handle, since, until)
WEEK = timedelta(weeks=1)
MINUTE = timedelta(minutes=1)
SLACK = 3 * 60  # minutes: more than any zone's clock change


def handoff(layer: Layer, zone: ZoneInfo, k: int) -> datetime:
    """The instant turn k begins."""
    return instant(layer.anchor + k * layer.turn, zone)


def turn_index(layer: Layer, zone: ZoneInfo, at: datetime) -> int:
    # The clock reading gives the turn at once, except in an hour the clocks repeat: the
    # instants of the neighbouring hand-offs settle it.
    k = max(0, (reading(at, zone) - layer.anchor) // layer.turn)
    while handoff(layer, zone, k + 1) <= at:
        k += 1
    while k > 0 and handoff(layer, zone, k) > at:
        k -= 1
    return k


def turn_at(layer: Layer, zone: ZoneInfo, at: datetime) -> Held | None:
    begin = instant(layer.start, zone)
    if at < begin:
        return None
    k = turn_index(layer, zone, at)
    return (layer.members[k % len(layer.members)], max(begin, handoff(layer, zone, k)),
            handoff(layer, zone, k + 1))


def week_of(at: datetime, zone: ZoneInfo) -> datetime:
    """The local reading of Monday 00:00 of the week `at` falls in."""
    wall = reading(at, zone)
    return datetime.combine(wall.date() - timedelta(days=wall.weekday()), time())


def window_at(layer: Layer, zone: ZoneInfo, at: datetime) -> tuple[datetime, datetime] | None:
    monday = week_of(at, zone)
    wall = (reading(at, zone) - monday) // MINUTE
    for week, minute in ((monday - WEEK, wall + WEEK_MINUTES), (monday, wall)):
        for start, end in layer.windows:
            # The clock reading picks the candidates (with slack for a changed hour); the
            # instants decide.
            if not start - SLACK <= minute < end + SLACK:
                continue
            since, until = instant(week + start * MINUTE, zone), instant(week + end * MINUTE, zone)
            if since <= at < until:
                return since, until
    return None


def held_at(layer: Layer, zone: ZoneInfo, at: datetime) -> Held | None:
    """Who this layer has on call at `at`, with the span of the turn (within its window)."""
    turn = turn_at(layer, zone, at)
    if turn is None or not layer.windows:
        return turn
    window = window_at(layer, zone, at)
    if window is None:
        return None
    return turn[0], max(turn[1], window[0]), min(turn[2], window[1])


def turns(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[Held]:
    begin = max(start, instant(layer.start, zone))
    if begin >= end:
        return []
    found, k = [], turn_index(layer, zone, begin)
    while (since := handoff(layer, zone, k)) < end:
        until = handoff(layer, zone, k + 1)
        if max(since, begin) < min(until, end):  # a turn inside a skipped hour lasts nothing
            found.append((layer.members[k % len(layer.members)], max(since, begin), min(until, end)))
        k += 1
    return found


def windows(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    if not layer.windows:
        return [(start, end)]
    found: list[tuple[datetime, datetime]] = []
    week = week_of(start, zone) - WEEK
    while instant(week, zone) < end:
        for first, last in layer.windows:
            since, until = max(instant(week + first * MINUTE, zone), start), min(instant(week + last * MINUTE, zone), end)
            if since >= until:
                continue
            if found and since <= found[-1][1]:  # adjacent windows read as one
                found[-1] = (found[-1][0], max(until, found[-1][1]))
            else:
                found.append((since, until))
        week += WEEK
    return found


def held(layer: Layer, zone: ZoneInfo, start: datetime, end: datetime) -> list[Held]:
    """Everyone this layer has on call in [start, end): its turns cut to its windows."""
    spans, result, w = windows(layer, zone, start, end), [], 0
    for handle, since, until in turns(layer, zone, start, end):
        while w < len(spans) and spans[w][1] <= since:
            w += 1
        i = w
        while i < len(spans) and spans[i][0] < until:
            result.append((handle, max(since, spans[i][0]), min(until, spans[i][1])))
            i += 1
    return result
