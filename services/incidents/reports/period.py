"""The period a report covers, read from its query (`week=2026-W49`, or `from`/`to`), and the
other choices a report takes; anything else is refused naming the field and the fix."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shared.errors import Invalid

BUCKETS = ("day", "week", "month")
DIMENSIONS = ("severity", "unit", "type", "source")
FORMATS = ("json", "csv")
LONGEST = timedelta(days=400)  # a report over more is a data export, not a review
_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive
    end: datetime  # exclusive
    zone: str
    week: str | None = None

    def as_of(self, now: datetime) -> datetime:
        """What the report counts: facts before the period's end, or up to and including
        now while it runs (the queries compare with `<`)."""
        return min(self.end, now + timedelta(microseconds=1))

    def view(self, now: datetime) -> dict[str, object]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(),
                "week": self.week, "time_zone": self.zone,
                "as_of": min(self.end, now).isoformat()}


def check_params(given: Iterable[str], allowed: Iterable[str]) -> None:
    """An unknown parameter is refused rather than ignored: a typo would silently widen the
    report."""
    known = list(allowed)
    for name in given:
        if name not in known:
            raise Invalid(name, f"is not a parameter of this report; use {', '.join(known)}")


def zone_of(value: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(value or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid("tz", f"{value!r} is not an IANA time zone such as Asia/Shanghai") \
            from None


def iso_week(value: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    match = _WEEK.match(value.strip())
    try:
        if not match:
            raise ValueError
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError:
        raise Invalid("week", f"{value!r} is not an ISO week: write it as 2026-W49") from None
    start = datetime.combine(monday, time(), zone)
    return start, datetime.combine(monday + timedelta(days=7), time(), zone)


def moment(field: str, value: str, zone: ZoneInfo, *, end: bool = False) -> datetime:
    """A date or a date-time. A bare date starts its day; as `to` it includes the day (people
    say "from the 1st to the 7th" and mean the 7th too)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1 if end else 0), time(), zone)
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise Invalid(field, f"{value!r} is not a date or date-time: write 2026-12-01 or "
                             "2026-12-01T08:00:00+08:00") from None
    return at if at.tzinfo else at.replace(tzinfo=zone)


def period_of(query: Mapping[str, str], now: datetime) -> Period:
    """`week`, or `from` (and `to`, default now); neither: the last complete ISO week.
    Times without an offset, and weeks, are read in `tz` (default UTC)."""
    zone = zone_of(query.get("tz"))
    week, start_text, end_text = query.get("week"), query.get("from"), query.get("to")
    if week and (start_text or end_text):
        raise Invalid("week", "give either week or from/to, not both")
    if end_text and not start_text:
        raise Invalid("from", "a period with `to` needs `from` too")
    if week:
        start, end = iso_week(week, zone)
        return Period(start, end, zone.key, week.strip())
    if start_text:
        start = moment("from", start_text, zone)
        end = moment("to", end_text, zone, end=True) if end_text else now
        if end <= start:
            raise Invalid("to", f"{end.isoformat()} is not after from ({start.isoformat()}): "
                                "the period is inverted or empty")
        if end - start > LONGEST:
            raise Invalid("to", f"the period is longer than {LONGEST.days} days; "
                                "ask for a shorter one")
        return Period(start, end, zone.key)
    year, number, _ = (now.astimezone(zone) - timedelta(days=7)).isocalendar()
    label = f"{year}-W{number:02d}"
    start, end = iso_week(label, zone)
    return Period(start, end, zone.key, label)


def unit_of(query: Mapping[str, str]) -> str | None:
    unit = (query.get("unit") or "").strip()
    if len(unit) > 200 or "\x00" in unit:
        raise Invalid("unit", "must be a unit or region name of at most 200 characters")
    return unit or None


def choice(query: Mapping[str, str], field: str, allowed: tuple[str, ...],
           default: str) -> str:
    value = query.get(field) or default
    if value not in allowed:
        raise Invalid(field, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def ratio(part: int, whole: int, empty: str) -> dict[str, object]:
    """A share that says why it is missing instead of dividing by zero."""
    if whole == 0:
        return {"rate": None, "note": empty}
    return {"rate": round(part / whole, 4), "note": None}


def rounded(seconds: object) -> float | None:
    return None if seconds is None else round(float(seconds), 1)  # type: ignore[arg-type]
