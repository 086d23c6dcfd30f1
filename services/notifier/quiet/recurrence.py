"""When a recurring maintenance window is open: on given days of the week, from a local start
time, for a duration. Times are local to the window's zone (zoneinfo), so a window at 02:00
stays at 02:00 on the wall clock across a daylight-saving change; the duration is elapsed
time (a 2-hour window lasts 2 hours even on the night the clocks move)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import Invalid

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DURATION = timedelta(days=7)
HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Weekly:
    zone: ZoneInfo
    days: frozenset[int]  # 0 = Monday
    start: time
    duration: timedelta

    @classmethod
    def parse(cls, *, time_zone: str, days: list[str], start: str,
              duration_minutes: float) -> "Weekly":
        return cls(zone_named(time_zone), weekdays(days), local_time(start),
                   duration_of(duration_minutes))

    def occurrence(self, day: date) -> tuple[datetime, datetime]:
        """The window opening on `day` (local), as UTC instants. A start time that does not
        exist that day (clocks jump over it) is taken in the offset before the jump, i.e.
        as late as the jump; one that happens twice is its first occurrence."""
        opens = datetime.combine(day, self.start, tzinfo=self.zone).astimezone(timezone.utc)
        return opens, opens + self.duration

    def open_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence open at `at` (latest-ending if several overlap), else None."""
        local_day = at.astimezone(self.zone).date()
        back = self.duration.days + 2  # occurrences that began this many days ago may still run
        found = None
        for offset in range(back, -2, -1):
            day = local_day - timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens, closes = self.occurrence(day)
            if opens <= at < closes and (found is None or closes > found[1]):
                found = (opens, closes)
        return found

    def next_opening(self, after: datetime) -> datetime:
        """The first opening strictly after `after`."""
        local_day = after.astimezone(self.zone).date()
        for offset in range(-1, 9):
            day = local_day + timedelta(days=offset)
            if day.weekday() in self.days:
                opens, _ = self.occurrence(day)
                if opens > after:
                    return opens
        raise AssertionError("a weekly window opens within eight days")


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise Invalid("time_zone", f"{name!r} is not a known IANA time zone "
                      "(e.g. Asia/Shanghai, Europe/Berlin, UTC)") from None


def weekdays(days: list[str]) -> frozenset[int]:
    if not days:
        raise Invalid("days", "list at least one day (mon, tue, wed, thu, fri, sat, sun)")
    unknown = [d for d in days if d not in DAYS]
    if unknown:
        raise Invalid("days", f"{unknown[0]!r} is not one of {', '.join(DAYS)}")
    return frozenset(DAYS.index(d) for d in days)


def local_time(start: str) -> time:
    found = HH_MM.match(start)
    if not found:
        raise Invalid("start", f"{start!r} is not a local time as HH:MM (e.g. 02:00)")
    return time(int(found.group(1)), int(found.group(2)))


def duration_of(minutes: float) -> timedelta:
    if not minutes or minutes <= 0 or minutes != minutes:
        raise Invalid("duration_minutes", "must be a positive number of minutes")
    duration = timedelta(minutes=minutes)
    if duration > MAX_DURATION:
        raise Invalid("duration_minutes", f"at most {int(MAX_DURATION.total_seconds() // 60)} "
                      "minutes (a week); for longer, use a silence")
    return duration
