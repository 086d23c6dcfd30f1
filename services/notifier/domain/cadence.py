"""When a digest policy's digests are sent: daily or weekly, at a time of day read on the
recipient's clock (09:00 Asia/Shanghai), on a weekday for weekly ones. A digest covers the
period that ends at its sending time and began at the previous one; both are wall-clock
readings turned into instants by oncall/wallclock.py, so a daylight-saving change moves the
instant, never the reading."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.notifier.oncall.wallclock import instant, reading
from shared.errors import Invalid

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_AT = "09:00"
DEFAULT_WEEKDAY = "mon"
# For recipients with no clock of their own (a channel rather than a person).
DEFAULT_TIME_ZONE = "Asia/Shanghai"
OFF = "off"  # what a PATCH sends to turn a policy back into a paging one


class Every(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class InvalidDigest(Invalid):
    """A policy's digest settings break a rule (HTTP 422 naming the field)."""


def normalised_digest(digest: str | None, digest_at: str | None = None,
                      digest_weekday: str | None = None,
                      digest_time_zone: str | None = None) -> dict[str, Any]:
    """The policy's digest fields as stored: all None for a paging policy; otherwise the
    cadence with its defaults filled in (09:00, Monday for weekly ones)."""
    if digest is None or digest == OFF:
        given = {"digest_at": digest_at, "digest_weekday": digest_weekday,
                 "digest_time_zone": digest_time_zone}
        for field, value in given.items():
            if value is not None:
                raise InvalidDigest(field, "only a digest policy has it; set digest to daily "
                                    "or weekly")
        return {"digest": None, "digest_at": None, "digest_weekday": None,
                "digest_time_zone": None}
    if digest not in Every.__members__.values():
        raise InvalidDigest("digest", f"{digest!r} is not one of daily, weekly, {OFF}")
    at = digest_at if digest_at is not None else DEFAULT_AT
    clock_reading(at)
    weekday = None
    if digest == Every.WEEKLY:
        weekday = digest_weekday if digest_weekday is not None else DEFAULT_WEEKDAY
        if weekday not in WEEKDAYS:
            raise InvalidDigest("digest_weekday", f"{weekday!r} is not one of "
                                f"{', '.join(WEEKDAYS)}")
    elif digest_weekday is not None:
        raise InvalidDigest("digest_weekday", "only a weekly digest has a weekday")
    if digest_time_zone is not None:
        zone_of(digest_time_zone, "digest_time_zone")
    return {"digest": str(digest), "digest_at": at, "digest_weekday": weekday,
            "digest_time_zone": digest_time_zone}


def clock_reading(text: Any, field: str = "digest_at") -> time:
    if isinstance(text, str) and re.fullmatch(r"\d\d:\d\d", text):
        try:
            return time.fromisoformat(text)
        except ValueError:
            pass
    raise InvalidDigest(field, f"{text!r} is not a time of day; write HH:MM, e.g. 09:00")


def zone_of(name: str, field: str = "digest_time_zone") -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidDigest(field, f"{name!r} is not an IANA time zone; use a name such as "
                            "Asia/Shanghai or Europe/Berlin") from None


@dataclass(frozen=True)
class Cadence:
    """One recipient's digest clock."""

    every: Every
    at: time
    weekday: int | None  # 0 = Monday; weekly only
    zone: ZoneInfo

    @classmethod
    def of(cls, every: str, at: str, weekday: str | None, time_zone: str) -> "Cadence":
        return cls(Every(every), clock_reading(at),
                   WEEKDAYS.index(weekday) if weekday is not None else None, ZoneInfo(time_zone))

    @property
    def days(self) -> int:
        return 7 if self.every is Every.WEEKLY else 1

    def period(self, at: datetime) -> tuple[datetime, datetime]:
        """The period the instant `at` falls in: [the last sending time at or before it,
        the next one after it), as UTC instants."""
        end_day = self._first_day_after(at)
        end = self._sending(end_day)
        start = self._sending(end_day - timedelta(days=self.days))
        return start, end

    def following(self, end: datetime) -> tuple[datetime, datetime]:
        """The period after the one ending at `end`."""
        return self.period(end)

    def _first_day_after(self, at: datetime) -> date:
        day = reading(at, self.zone).date()
        if self.weekday is not None:
            day -= timedelta(days=(day.weekday() - self.weekday) % 7)
        while self._sending(day) <= at:
            day += timedelta(days=self.days)
        return day

    def _sending(self, day: date) -> datetime:
        return instant(datetime.combine(day, self.at), self.zone)
