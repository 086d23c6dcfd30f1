"""A schedule's week as a calendar: seven local days, each with the pieces of the shifts that
fall on it (an override's piece marked), read in the schedule's own time zone."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo


def week_start(at: datetime, zone: str, offset_weeks: int = 0) -> datetime:
    """Monday 00:00, local to `zone`, of the week holding `at`, moved by `offset_weeks`."""
    local = at.astimezone(ZoneInfo(zone))
    monday = (local - timedelta(days=local.weekday())).date() + timedelta(weeks=offset_weeks)
    return datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo(zone))


def week_days(start: datetime, shifts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seven days from `start` (local midnight); each shift cut at the local midnights it
    spans, as "HH:MM–HH:MM" pieces (24:00 for a piece that runs to the day's end)."""
    zone = start.tzinfo
    days = []
    for n in range(7):
        day = start.date() + timedelta(days=n)
        lo = datetime(day.year, day.month, day.day, tzinfo=zone)
        nxt = day + timedelta(days=1)
        hi = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone)  # 23 or 25 h across DST
        pieces = []
        for shift in shifts:
            begin, end = _time(shift["start"]), _time(shift["end"])
            if begin >= hi or end <= lo:
                continue
            a, b = max(begin, lo).astimezone(zone), min(end, hi).astimezone(zone)
            pieces.append({"handle": shift["handle"], "from": a.strftime("%H:%M"),
                           "to": "24:00" if b >= hi else b.strftime("%H:%M"),
                           "override": shift["source"]["kind"] == "override",
                           "why": shift.get("why", "")})
        days.append({"date": day, "weekday": day.weekday(), "shifts": pieces})
    return days


def local(value: str, zone: str) -> str:
    return _time(value).astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M")


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
