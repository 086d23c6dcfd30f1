"""Scores a replay against labelled anomaly windows: precision, false-positive rate, misses,
detection delay and alert volume."""
from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import mean, median

from .model import AlertSpan, Replay, Scores, Window

DAY = 86400.0


def score(replay: Replay, windows: Sequence[Window]) -> Scores:
    """An alert is true when it starts inside a window for its entity (or an entity-less one);
    a window is detected when a true alert starts inside it."""
    alerts = replay.alerts
    true_alerts = sum(1 for a in alerts if any(w.holds(a.entity, a.start) for w in windows))
    delays = [d for d in (_first_delay(w, alerts) for w in windows) if d is not None]
    days = replay_days(replay)
    n = len(alerts)
    return Scores(
        alerts=n, true_alerts=true_alerts, false_alerts=n - true_alerts,
        windows=len(windows), detected_windows=len(delays),
        precision=true_alerts / n if n else None,
        false_positive_rate=(n - true_alerts) / n if n else None,
        miss_rate=(len(windows) - len(delays)) / len(windows) if windows else None,
        detection_delay=delay_stats(delays),
        alerts_per_day=n / days, suppressed=replay.suppressed, days=days)


def replay_days(replay: Replay) -> float:
    """Days covered by the replayed samples, at least one sample interval; a replay with no
    extent at all (one sample, interval unknown) counts as one day rather than dividing by 0."""
    span = max(replay.end - replay.start, replay.interval or 0.0)
    return span / DAY if span > 0 else 1.0


def delay_stats(delays: Sequence[float]) -> dict[str, float | None]:
    if not delays:
        return {"mean": None, "median": None, "p90": None, "max": None}
    return {"mean": mean(delays), "median": median(delays), "p90": _percentile(delays, 90),
            "max": max(delays)}


def _first_delay(window: Window, alerts: Sequence[AlertSpan]) -> float | None:
    starts = [a.start for a in alerts if window.holds(a.entity, a.start)]
    return min(starts) - window.start if starts else None


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), without numpy."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(rank), math.ceil(rank)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)
