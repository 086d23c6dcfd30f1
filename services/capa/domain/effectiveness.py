"""The effectiveness window's arithmetic and words: how long a severity's window lasts, which
day of it an alert fired on, and the sentence that says why a case cannot close."""
from __future__ import annotations

from datetime import datetime, timedelta

from shared.errors import Invalid

# How long the incident's alert must stay clear after the last verification, by severity.
DEFAULT_WINDOWS = "P0=7d,P1=5d,P2=3d,P3=3d"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_windows(text: str) -> dict[str, timedelta]:
    """`P0=7d,P1=5d,…` (units s, m, h, d) → severity → window; refuses what it cannot read."""
    windows: dict[str, timedelta] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        severity, _, length = item.partition("=")
        length = length.strip()
        if not (length[:-1].isdigit() and length[-1:] in _UNITS and int(length[:-1]) > 0):
            raise Invalid("effectiveness_windows", f"{item!r} is not SEVERITY=LENGTH with a "
                          "positive length in s, m, h or d, e.g. P0=7d")
        windows[severity.strip()] = timedelta(seconds=int(length[:-1]) * _UNITS[length[-1]])
    return windows


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
