"""SLA clocks: how much working time lies between two instants, and when a given amount of
working time has passed. A 24×7 clock counts every second; a business-hours clock counts
only the working hours of each weekday in its time zone, skipping public holidays (the
`holidays` library; a country's substituted working weekends, such as China's 调休 days,
count as working days). Working hours are wall-clock times turned into instants in the
zone, so a day with a clock change has an hour more or less to work."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

# Beyond this a business-hours clock has no working time ahead (a calendar without hours).
MAX_DAYS = 3 * 366


class Calendar(Protocol):
    def add(self, start: datetime, work: timedelta) -> datetime: ...

    def working_between(self, start: datetime, end: datetime) -> timedelta: ...


class AlwaysOn:
    """24×7: every second counts."""

    def add(self, start: datetime, work: timedelta) -> datetime:
        return start + work

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))


Span = tuple[time, time | None]  # a working span of a day; None as the end: midnight


@dataclass(frozen=True)
class BusinessHours:
    """Working spans per weekday (0 = Monday), a time zone and public holidays. `makeup`: the
    spans of a weekend day the country declares a working day (调休)."""

    zone: str
    week: dict[int, tuple[Span, ...]]
    country: str | None = None
    subdivision: str | None = None
    extra_holidays: frozenset[date] = frozenset()
    makeup: tuple[Span, ...] = ()
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tz", ZoneInfo(self.zone))

    def add(self, start: datetime, work: timedelta) -> datetime:
        left = work
        if left <= timedelta(0):
            return start
        for begin, end in self._spans_from(start):
            begin = max(begin, start)
            if end <= begin:
                continue
            if end - begin >= left:
                return begin + left
            left -= end - begin
        raise NoWorkingTime(f"the calendar in {self.zone} has no working time in the "
                            f"{MAX_DAYS} days after {start.isoformat()}")

    def working_between(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        if end <= start:
            return total
        for begin, stop in self._spans_from(start):
            if begin >= end:
                break
            begin, stop = max(begin, start), min(stop, end)
            if stop > begin:
                total += stop - begin
        return total

    def spans_on(self, day: date) -> tuple[Span, ...]:
        """The working spans of a local date: none on a holiday, the makeup spans on a
        substituted working weekend day."""
        if day in self.extra_holidays:
            return ()
        if self.country:
            official = _holidays(self.country, self.subdivision, day.year)
            if day in getattr(official, "weekend_workdays", ()):
                return self.makeup or self.week.get(0, ())
            if day in official:
                return ()
        return self.week.get(day.weekday(), ())

    def _spans_from(self, start: datetime):
        """Working spans as UTC instants, in order, from the local day of `start` on."""
        day = start.astimezone(self._tz).date() - timedelta(days=1)  # a span may end after midnight
        for offset in range(MAX_DAYS + 1):
            current = day + timedelta(days=offset)
            for begin, end in self.spans_on(current):
                yield self._instant(current, begin), self._instant(
                    current + timedelta(days=1) if end is None else current,
                    end or time(0))

    def _instant(self, day: date, at: time) -> datetime:
        # A wall time skipped by a clock change moves forward (fold=0 reads it in the old
        # offset); a repeated one is its first occurrence.
        return datetime.combine(day, at, tzinfo=self._tz).astimezone(timezone.utc)


@lru_cache(maxsize=64)
def _holidays(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision, years=year)


def check_country(country: str, subdivision: str | None) -> None:
    """Raises ValueError naming what the holidays library does not know."""
    holidays.country_holidays(country, subdiv=subdivision, years=2026)


class NoWorkingTime(ValueError):
    pass
