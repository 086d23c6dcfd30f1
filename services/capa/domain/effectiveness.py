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


def fit_to_interval(window: timedelta,
                    interval_seconds: float | None) -> tuple[timedelta, str | None]:
    """The window lengthened to at least two of the rule's evaluation intervals, and why.
    A window shorter than one interval may see no evaluation at all, and one interval may
    end just before the single evaluation it holds: two always hold a full one. The setting
    cannot know every rule, so the case adapts rather than the service refusing to start."""
    if not interval_seconds or interval_seconds <= 0:
        return window, None  # the rule evaluates on every sample, or nobody said
    interval = timedelta(seconds=interval_seconds)
    if window >= 2 * interval:
        return window, None
    return 2 * interval, (f"lengthened from {span(window)} to {span(2 * interval)}: the "
                          f"alert's rule evaluates every {span(interval)}, and the window must "
                          "hold two evaluations")


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
