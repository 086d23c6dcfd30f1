"""A schedule's definition as people write it (JSON: time zone, layers, restrictions) and
its overrides, checked field by field and turned into the engine's Plan. Every refusal names
the field and says how to fix it."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.notifier.oncall.model import (
    WEEK_MINUTES, InvalidSchedule, Layer, Override, OverrideKind, Plan, Rotation,
)
from services.notifier.oncall.wallclock import UTC

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UNIT = {Rotation.HOURLY: timedelta(hours=1), Rotation.DAILY: timedelta(days=1),
        Rotation.WEEKLY: timedelta(weeks=1)}
# Far enough for any real rota, near enough that turn arithmetic never leaves datetime's range.
EARLIEST, LATEST = datetime(1971, 1, 1), datetime(2200, 1, 1)
MAX_SHIFT_HOURS = 24 * 366
MAX_SHIFTS_PER_TURN = 1000
LAYER_FIELDS = ("name", "rotation", "shift_hours", "shifts_per_turn", "handoff_time",
                "handoff_weekday", "start", "members", "restrictions")


def plan(definition: dict[str, Any], overrides: list[dict[str, Any]] = ()) -> Plan:
    """Check a definition (and overrides) and build the engine's view of it."""
    zone = parse_zone(definition.get("time_zone"))
    layers = definition.get("layers") or []
    if not layers:
        raise InvalidSchedule("layers", "a schedule needs at least one layer")
    parsed = tuple(parse_layer(layer, f"layers[{i}]", i) for i, layer in enumerate(layers))
    names = [layer.name for layer in parsed]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidSchedule(f"layers[{i}].name", f"{name!r} names two layers; "
                                  "give each layer its own name")
    checked = tuple(parse_override(o, f"overrides[{i}]") for i, o in enumerate(overrides))
    check_overlaps(checked)
    return Plan(name=str(definition.get("name", "")), zone=zone, layers=parsed,
                overrides=checked)


def parse_zone(name: Any) -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise InvalidSchedule("time_zone", "give an IANA time zone such as Asia/Shanghai")
    try:
        return ZoneInfo(name)
    except Exception:  # unknown names, path-like names and stray characters alike
        raise InvalidSchedule("time_zone", f"{name!r} is not an IANA time zone "
                              "(e.g. Europe/Berlin, America/New_York, Asia/Shanghai)") from None


def parse_layer(raw: dict[str, Any], field: str, index: int) -> Layer:
    unknown = sorted(set(raw) - set(LAYER_FIELDS))
    if unknown:
        raise InvalidSchedule(f"{field}.{unknown[0]}", f"is not a layer field ({', '.join(LAYER_FIELDS)})")
    name = str(raw.get("name") or f"layer {index + 1}").strip()
    try:
        rotation = Rotation(raw.get("rotation"))
    except ValueError:
        raise InvalidSchedule(f"{field}.rotation", f"must be one of {', '.join(Rotation)}") from None
    turn = turn_length(raw, field, rotation)
    handoff = parse_clock(raw.get("handoff_time", "09:00"), f"{field}.handoff_time")
    weekday = raw.get("handoff_weekday")
    if rotation is Rotation.WEEKLY:
        weekday = parse_weekday(weekday or "mon", f"{field}.handoff_weekday")
    elif weekday is not None:
        raise InvalidSchedule(f"{field}.handoff_weekday", "only weekly rotations hand off on a "
                              "weekday; leave it out")
    start = parse_local(raw.get("start"), f"{field}.start")
    members = raw.get("members") or []
    if not members:
        raise InvalidSchedule(f"{field}.members", "a layer needs at least one member (a person's handle)")
    for i, member in enumerate(members):
        if not isinstance(member, str) or not member.strip():
            raise InvalidSchedule(f"{field}.members[{i}]", "a member is a person's handle, not empty")
    windows = parse_restrictions(raw.get("restrictions") or [], f"{field}.restrictions")
    return Layer(name=name, rotation=rotation, turn=turn,
                 anchor=first_turn(start, handoff, weekday, turn, rotation), start=start,
                 members=tuple(m.strip() for m in members), windows=windows)


def turn_length(raw: dict[str, Any], field: str, rotation: Rotation) -> timedelta:
    hours = raw.get("shift_hours")
    if rotation is Rotation.CUSTOM:
        if isinstance(hours, bool) or not isinstance(hours, int) or not 0 < hours <= MAX_SHIFT_HOURS:
            raise InvalidSchedule(f"{field}.shift_hours", "a custom rotation needs a shift length "
                                  f"of 1 to {MAX_SHIFT_HOURS} whole hours, got {hours!r}")
        unit = timedelta(hours=hours)
    elif hours is not None:
        raise InvalidSchedule(f"{field}.shift_hours", f"only custom rotations have a shift "
                              f"length; a {rotation} rotation's shift is one {UNIT[rotation]}")
    else:
        unit = UNIT[rotation]
    count = raw.get("shifts_per_turn", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_SHIFTS_PER_TURN:
        raise InvalidSchedule(f"{field}.shifts_per_turn", "must be a whole number of shifts "
                              f"from 1 to {MAX_SHIFTS_PER_TURN}, got {count!r}")
    return unit * count


def first_turn(start: datetime, handoff: time, weekday: int | None, turn: timedelta,
               rotation: Rotation) -> datetime:
    """The local reading of the hand-off that opens the turn holding `start`. Hand-offs fall
    at the hand-off time (on its weekday for weekly rotations) and every turn after it; hourly
    rotations keep the hand-off's minute."""
    if rotation is Rotation.HOURLY and turn == UNIT[Rotation.HOURLY]:
        base = start.replace(minute=handoff.minute, second=0, microsecond=0)
    else:
        base = datetime.combine(start.date(), handoff)
        if weekday is not None:
            base -= timedelta(days=(start.weekday() - weekday) % 7)
    while base > start:
        base -= timedelta(days=7) if weekday is not None else min(turn, timedelta(days=1))
    return base + ((start - base) // turn) * turn


def parse_restrictions(raw: list[dict[str, Any]], field: str) -> tuple[tuple[int, int], ...]:
    """Windows in minutes of the week. A daily window (`start`, `end`, optional `days`) must
    end after it starts; a weekly one (`start_day`/`start` to `end_day`/`end`) may run over
    the end of the week. No two windows of a layer may overlap."""
    windows: list[tuple[int, int, int]] = []  # (start, end, restriction index)
    for i, restriction in enumerate(raw):
        where = f"{field}[{i}]"
        start = minutes(parse_clock(restriction.get("start"), f"{where}.start"))
        end = minutes(parse_clock(restriction.get("end"), f"{where}.end", allow_24=True))
        if restriction.get("start_day") is not None or restriction.get("end_day") is not None:
            if restriction.get("days") is not None:
                raise InvalidSchedule(f"{where}.days", "a weekly window has start_day and "
                                      "end_day; daily windows list days")
            first = parse_weekday(restriction.get("start_day"), f"{where}.start_day") * 1440 + start
            last = parse_weekday(restriction.get("end_day"), f"{where}.end_day") * 1440 + end
            if last == first:
                raise InvalidSchedule(where, "a window that ends when it starts is empty; leave "
                                      "restrictions out for a layer that is always on")
            windows.append((first, last if last > first else last + WEEK_MINUTES, i))
            continue
        if end <= start:
            raise InvalidSchedule(f"{where}.end", f"{restriction.get('end')} is not after "
                                  f"{restriction.get('start')}; a window over midnight is written "
                                  "with start_day and end_day (e.g. mon 22:00 to tue 06:00)")
        days = restriction.get("days")
        days = list(WEEKDAYS) if days is None else days
        if not days:
            raise InvalidSchedule(f"{where}.days", "list at least one day, or leave days out for every day")
        for j, day in enumerate(days):
            offset = parse_weekday(day, f"{where}.days[{j}]") * 1440
            windows.append((offset + start, offset + end, i))
    for a, (s1, e1, i1) in enumerate(windows):
        for s2, e2, i2 in windows[a + 1:]:
            if any(s1 < e2 + shift and s2 + shift < e1 for shift in (-WEEK_MINUTES, 0, WEEK_MINUTES)):
                where = f"{field}[{i2}]"
                other = "itself (a day is listed twice)" if i1 == i2 else f"{field}[{i1}]"
                raise InvalidSchedule(where, f"overlaps {other}; windows of a layer must not overlap")
    return tuple(sorted((s, e) for s, e, _ in windows))


def parse_override(raw: dict[str, Any], field: str) -> Override:
    try:
        kind = OverrideKind(raw.get("kind"))
    except ValueError:
        raise InvalidSchedule(f"{field}.kind", f"must be one of {', '.join(OverrideKind)}") from None
    person = raw.get("person")
    if not isinstance(person, str) or not person.strip():
        raise InvalidSchedule(f"{field}.person", "name the person's handle")
    by = raw.get("by")
    if kind is OverrideKind.REPLACE:
        if not isinstance(by, str) or not by.strip():
            raise InvalidSchedule(f"{field}.by", "a replacement names who takes over (by)")
        if by.strip() == person.strip():
            raise InvalidSchedule(f"{field}.by", "a person cannot replace themselves")
    elif by is not None:
        raise InvalidSchedule(f"{field}.by", f"only replace overrides name a replacement; "
                              f"an {kind} override names only the person")
    start, end = parse_instant(raw.get("start"), f"{field}.start"), parse_instant(raw.get("end"), f"{field}.end")
    if end <= start:
        raise InvalidSchedule(f"{field}.end", f"{raw.get('end')} is not after {raw.get('start')}")
    return Override(id=str(raw.get("id") or ""), kind=kind, person=person.strip(),
                    by=by.strip() if by else None, start=start, end=end)


def check_overlaps(overrides: tuple[Override, ...]) -> None:
    """Two overrides for the same person at the same time would contradict or repeat each
    other: the second is refused."""
    for i, late in enumerate(overrides):
        for early in overrides[:i]:
            check_apart(early, late, f"overrides[{i}]")


def check_apart(early: Override, late: Override, field: str) -> None:
    if early.person == late.person and early.start < late.end and late.start < early.end:
        raise InvalidSchedule(field, f"{late.person} already has override {early.id} from "
                              f"{early.start.isoformat()} to {early.end.isoformat()}; overrides "
                              "for one person must not overlap")


def parse_clock(value: Any, field: str, allow_24: bool = False) -> time | None:
    if allow_24 and value == "24:00":
        return None  # the end of the day
    try:
        hour, minute = str(value).split(":")
        if len(hour) != 2 or len(minute) != 2:
            raise ValueError
        return time(int(hour), int(minute))
    except ValueError:
        raise InvalidSchedule(field, f"{value!r} is not a time of day (HH:MM, e.g. 09:00)") from None


def minutes(clock: time | None) -> int:
    return 1440 if clock is None else clock.hour * 60 + clock.minute


def parse_weekday(value: Any, field: str) -> int:
    day = str(value).strip().lower()
    if day not in WEEKDAYS:
        raise InvalidSchedule(field, f"{value!r} is not a weekday ({', '.join(WEEKDAYS)})")
    return WEEKDAYS.index(day)


def parse_local(value: Any, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidSchedule(field, f"{value!r} is not a local date and time "
                              "(YYYY-MM-DDTHH:MM)") from None
    if parsed.tzinfo is not None:
        raise InvalidSchedule(field, "write the local date and time without an offset; the "
                              "schedule's time zone applies")
    if not EARLIEST <= parsed < LATEST:
        raise InvalidSchedule(field, f"must lie between {EARLIEST.year} and {LATEST.year}")
    return parsed.replace(second=0, microsecond=0)


def parse_instant(value: Any, field: str) -> datetime:
    """An instant with an offset (overrides, queries): stored and compared in UTC."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidSchedule(field, f"{value!r} is not a date and time with an offset "
                                  "(e.g. 2026-03-29T09:00:00+02:00)") from None
    if parsed.tzinfo is None:
        raise InvalidSchedule(field, "give the offset (or Z): an override is an instant")
    check_instant(parsed, field)
    return parsed.astimezone(UTC)


def check_instant(at: datetime, field: str = "at") -> None:
    if at.tzinfo is None:
        raise InvalidSchedule(field, "give the offset (or Z)")
    if not EARLIEST.replace(tzinfo=UTC) <= at < LATEST.replace(tzinfo=UTC):
        raise InvalidSchedule(field, f"must lie between {EARLIEST.year} and {LATEST.year}")
