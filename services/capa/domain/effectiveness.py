"""The effectiveness window's arithmetic and words: how long a severity's window lasts, which
day of it an alert fired on, and the sentence that says why a case cannot close."""
from __future__ import annotations

from datetime import timedelta

from shared.durations import day_of, failure_reason, parse_length, span, window_name
from shared.errors import Invalid

# The window's words are shared with the incidents' observation windows.
__all__ = ["DEFAULT_WINDOWS", "day_of", "failure_reason", "fit_to_interval", "parse_windows",
           "span", "window_name"]

# How long the incident's alert must stay clear after the last verification, by severity.
DEFAULT_WINDOWS = "P0=7d,P1=5d,P2=3d,P3=3d"


def parse_windows(text: str) -> dict[str, timedelta]:
    """`P0=7d,P1=5d,…` (units s, m, h, d) → severity → window; refuses what it cannot read."""
    windows: dict[str, timedelta] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        severity, _, length = item.partition("=")
        window = parse_length(length)
        if window is None:
            raise Invalid("effectiveness_windows", f"{item!r} is not SEVERITY=LENGTH with a "
                          "positive length in s, m, h or d, e.g. P0=7d")
        windows[severity.strip()] = window
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
