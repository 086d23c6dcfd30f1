"""Lengths of time as people write them in settings (a positive whole number and a unit,
`30s`, `10m`, `12h`, `7d`) and as they read them back: the words of a window that an alert
must stay clear through (capa's effectiveness windows, the incidents' observation windows)."""
from __future__ import annotations

from datetime import datetime, timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_length(text: str) -> timedelta | None:
    """The length `text` names, or None when it is not a positive number with a unit."""
    text = text.strip()
    if not (text[:-1].isdigit() and text[-1:] in UNITS and int(text[:-1]) > 0):
        return None
    return timedelta(seconds=int(text[:-1]) * UNITS[text[-1]])


def parse_rate(text: str) -> tuple[int, timedelta] | None:
    """`120/60s` → (120, 60 s): at most that many per length; `off` → None. Raises
    ValueError saying how to write it."""
    text = text.strip()
    if text == "off":
        return None
    count, _, length = text.partition("/")
    window = parse_length(length) if length else None
    if not count.strip().isdigit() or int(count) < 1 or window is None:
        raise ValueError(f"{text!r} is not <count>/<length>, e.g. 120/60s (at most 120 in any "
                         "60 seconds), or off")
    return int(count), window


def span(delta: timedelta) -> str:
    """A window or an elapsed time in the largest whole unit a person would say."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def window_name(window: timedelta) -> str:
    """'the 7-day window', 'the 10-minute window'."""
    count, unit = span(window).split(" ")
    return f"the {count}-{unit.rstrip('s')} window"


def day_of(window_start: datetime, fired_at: datetime) -> int:
    """The window's day the alert fired on, counting its first day as day 1."""
    return (fired_at - window_start) // timedelta(days=1) + 1


def failure_reason(ref: str, alert: str, entity: str, window_start: datetime,
                   fired_at: datetime, window: timedelta) -> str:
    return (f"{ref} cannot close: alert '{alert}' on {entity} fired "
            f"{span(fired_at - window_start)} into {window_name(window)}")
