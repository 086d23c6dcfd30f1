"""SLA policies as configuration: per severity, and optionally per incident type, the time to
respond, to resolve and to close, each counted on a calendar (24×7 or business hours), and
the share of it after which a deadline is "at risk". Read from a YAML or JSON file
(CLOSEDLOOP_SLA_POLICIES_FILE) and checked at start-up; without a file the shipped defaults
hold (P0 5 min / 4 h, P1 15 min / 24 h, P2 1 h / 72 h, P3 4 h / 7 d, 24×7, no closure target,
no at-risk warning) and the progress cadence (P0 every 4 h, P1 8 h, P2 24 h, P3 none;
docs/progress-cadence.md)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.config_files import read_config
from shared.contracts.vocabulary import Severity

from services.incidents.calendars import AlwaysOn, BusinessHours, Calendar, Span, check_country
from services.incidents.domain.vocabulary import SLA

ALWAYS = "24x7"
KINDS = ("respond", "resolve", "close")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?:in)?)?(?:(\d+)s)?$")
# How often an open incident's audience expects a progress update, when a policy does not
# say (`update_every`); P3 has none (docs/adr/progress-cadence.md).
DEFAULT_UPDATE_EVERY: dict[Severity, timedelta | None] = {
    Severity.P0: timedelta(hours=4), Severity.P1: timedelta(hours=8),
    Severity.P2: timedelta(hours=24), Severity.P3: None}
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class SlaPolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the field."""


def parse_duration(value: Any) -> timedelta:
    """`15m`, `2h`, `1h30m`, `7d`, `90s`, or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 15m, 2h, 1h30m or 7d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip()) if value is not None else None
        if not match or not any(match.groups()):
            raise ValueError(f"{value!r} is not a duration: write 15m, 2h, 1h30m or 7d")
        d, h, m, s = (int(g or 0) for g in match.groups())
        seconds = ((d * 24 + h) * 60 + m) * 60 + s
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return timedelta(seconds=seconds)


def parse_spans(value: Any) -> tuple[Span, ...]:
    """`09:00-18:00`, a list of such spans, or an empty list for a day off; 24:00 ends a
    span at midnight."""
    items = [value] if isinstance(value, str) else list(value or [])
    spans: list[Span] = []
    for item in items:
        match = _SPAN.match(str(item).strip())
        if not match:
            raise ValueError(f"{item!r} is not a span of working hours: write 09:00-18:00")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"{item!r} is not a time of day")
        begin, end = time(h1, m1), None if h2 == 24 else time(h2, m2)
        if end is not None and end <= begin:
            raise ValueError(f"{item!r} ends before it begins (a span ends by 24:00)")
        if spans and (spans[-1][1] is None or begin < spans[-1][1]):  # type: ignore[operator]
            raise ValueError(f"{item!r} overlaps or precedes the span before it")
        spans.append((begin, end))
    return tuple(spans)


class CalendarSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time_zone: str = Field(description="IANA zone the working hours are read in")
    hours: dict[str, Any] = Field(description="weekday (mon…sun) → working spans")
    holidays: str | None = Field(None, description="country code for the holidays library")
    subdivision: str | None = None
    extra_holidays: list[date] = []
    makeup_hours: Any = Field(None, description="spans of a substituted working weekend day")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Asia/Shanghai") \
                from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, Any]) -> dict[str, Any]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday: use {', '.join(WEEKDAYS)}")
            try:
                parse_spans(spans)
            except ValueError as e:
                raise ValueError(f"{day}: {e}") from None
        if not any(parse_spans(s) for s in value.values()):
            raise ValueError("no working hours on any weekday")
        return value

    @field_validator("makeup_hours")
    @classmethod
    def _makeup(cls, value: Any) -> Any:
        parse_spans(value)
        return value

    def calendar(self) -> BusinessHours:
        return BusinessHours(
            zone=self.time_zone, country=self.holidays, subdivision=self.subdivision,
            week={WEEKDAYS.index(d): parse_spans(s) for d, s in self.hours.items()},
            extra_holidays=frozenset(self.extra_holidays),
            makeup=parse_spans(self.makeup_hours))


class PolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Severity
    type: str | None = Field(None, description="incident type (problem_type); none: any")
    calendar: str = ALWAYS
    respond: Any
    resolve: Any
    close: Any = None
    at_risk: float | None = Field(None, gt=0, lt=1)
    update_every: Any = Field(None, description=(
        "progress cadence (4h); off or null: none; omitted: the severity's default"))

    @field_validator("update_every")
    @classmethod
    def _cadence(cls, value: Any) -> timedelta | None:
        # YAML reads a bare `off` as false.
        off = value is None or value is False or value in ("off", "none")
        return None if off else parse_duration(value)

    def cadence(self) -> timedelta | None:
        if "update_every" in self.model_fields_set:
            return self.update_every
        return DEFAULT_UPDATE_EVERY[self.severity]

    @field_validator("respond", "resolve")
    @classmethod
    def _target(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("close")
    @classmethod
    def _close(cls, value: Any) -> timedelta | None:
        return None if value is None else parse_duration(value)


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at_risk: float | None = Field(None, gt=0, lt=1,
                                  description="share of a target after which it is at risk")
    calendars: dict[str, CalendarSpec] = {}
    policies: list[PolicySpec]


@dataclass(frozen=True)
class Policy:
    name: str
    severity: Severity
    type: str | None
    calendar: Calendar
    targets: dict[str, timedelta]  # kind → working time; no "close" without a closure target
    at_risk: float | None
    calendar_name: str = ALWAYS
    update_every: timedelta | None = None  # the progress cadence, on the policy's calendar

    def view(self) -> dict[str, Any]:
        """What GET /v1/sla-policies shows of it."""
        return {"name": self.name, "severity": str(self.severity), "type": self.type,
                "calendar": self.calendar_name, "at_risk": self.at_risk,
                "targets": {k: t.total_seconds() for k, t in self.targets.items()},
                "update_every": (self.update_every.total_seconds()
                                 if self.update_every is not None else None)}

    def due(self, kind: str, start: datetime) -> tuple[datetime, datetime | None] | None:
        """The deadline of `kind` counted from `start` and when it becomes at risk."""
        target = self.targets.get(kind)
        if target is None:
            return None
        risk = self.calendar.add(start, target * self.at_risk) if self.at_risk else None
        return self.calendar.add(start, target), risk


class SlaPolicies:
    def __init__(self, policies: list[Policy], source: str | None = None) -> None:
        self._by_key = {(p.severity, p.type): p for p in policies}
        self.source = source  # the file they came from; None: the shipped defaults

    def view(self) -> dict[str, Any]:
        return {"source": self.source, "policies": [p.view() for p in self._by_key.values()]}

    def policy(self, severity: Severity | str, incident_type: str | None = None) -> Policy:
        severity = Severity(severity)
        return (self._by_key.get((severity, incident_type))
                or self._by_key[(severity, None)])


def default_policies() -> SlaPolicies:
    return SlaPolicies([Policy(f"{s} default", s, None, AlwaysOn(),
                               {"respond": sla.respond, "resolve": sla.resolve}, None,
                               update_every=DEFAULT_UPDATE_EVERY[s])
                        for s, sla in SLA.items()])


def load_policies(path: str | Path | None) -> SlaPolicies:
    """The policies in a YAML or JSON file (the defaults without one). Raises SlaPolicyError
    naming the file and the field."""
    if not path:
        return default_policies()
    path = Path(path)
    spec = read_config(path, PolicyFile, "SLA policies", SlaPolicyError)
    return _build(path, spec)


def _build(path: Path, spec: PolicyFile) -> SlaPolicies:
    def fail(where: str, message: str) -> SlaPolicyError:
        return SlaPolicyError(f"SLA policies {path}: {where}: {message}")

    calendars: dict[str, Calendar] = {ALWAYS: AlwaysOn()}
    for name, cal in spec.calendars.items():
        if cal.holidays:
            try:
                check_country(cal.holidays, cal.subdivision)
            except (NotImplementedError, KeyError, ValueError) as e:
                raise fail(f"calendars.{name}.holidays",
                           f"the holidays library does not know {cal.holidays!r} "
                           f"(subdivision {cal.subdivision!r}): {e}") from None
        calendars[name] = cal.calendar()
    policies, seen = [], set()
    for i, p in enumerate(spec.policies):
        if p.calendar not in calendars:
            raise fail(f"policies.{i}.calendar",
                       f"{p.calendar!r} is neither {ALWAYS} nor a calendar defined under "
                       f"calendars ({', '.join(spec.calendars) or 'none'})")
        if (p.severity, p.type) in seen:
            raise fail(f"policies.{i}", f"a second policy for {p.severity}"
                       + (f" and type {p.type!r}" if p.type else ""))
        seen.add((p.severity, p.type))
        targets = {"respond": p.respond, "resolve": p.resolve}
        if p.close is not None:
            targets["close"] = p.close
        policies.append(Policy(f"{p.severity}" + (f"/{p.type}" if p.type else ""),
                               p.severity, p.type, calendars[p.calendar], targets,
                               p.at_risk if p.at_risk is not None else spec.at_risk,
                               p.calendar, p.cadence()))
    missing = [str(s) for s in Severity if (s, None) not in seen]
    if missing:
        raise fail("policies", f"no policy without a type for {', '.join(missing)}: every "
                   "severity needs one (type-specific policies refine it)")
    return SlaPolicies(policies, str(path))
