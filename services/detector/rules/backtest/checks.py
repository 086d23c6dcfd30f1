"""What a backtest should say about its history before anyone trusts its numbers: rows out
of order, repeated times, gaps, constant series, too little history (docs/backtesting.md)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

GAP_INTERVALS = 3.0   # a pause longer than this many intervals is reported as a gap


def history_notes(rows: Sequence[Any], ordered: Sequence[Any], interval: float | None,
                  warmup: int | None) -> list[str]:
    """Plain-language notes on the watched samples: ``rows`` as given, ``ordered`` sorted by
    time; ``warmup`` is the adaptive measure's warm-up when the rule uses it."""
    notes = []
    late = _out_of_order(rows)
    if late:
        notes.append(f"{late} row(s) came earlier than a row before them; the replay sorted "
                     "the history by time (as the live detector would refuse them, send "
                     "samples in time order)")
    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for s in ordered:
        series.setdefault((s[0], s[1]), []).append((s[3], s[4]))
    repeated = sum(sum(1 for a, b in zip(p, p[1:]) if a[0] == b[0]) for p in series.values())
    if repeated:
        notes.append(f"{repeated} sample(s) repeat a time already seen for their series; the "
                     "later ones were refused and counted as rejected (keep one row per time)")
    for (_, entity), points in series.items():
        notes.extend(_series_notes(entity, points, interval, warmup))
    return notes


def _series_notes(entity: str, points: list[tuple[float, float]], interval: float | None,
                  warmup: int | None) -> list[str]:
    notes = []
    values = {v for _, v in points}
    if len(points) == 1:
        notes.append(f"{entity}: a single sample; a change, a deviation or an adaptive score "
                     "needs history, so only `value` bounds can fire")
    elif warmup and len(points) < warmup:
        notes.append(f"{entity}: {len(points)} samples; the adaptive score starts after "
                     f"{warmup} (its warm-up), so it never scored here")
    if len(points) > 1 and len(values) == 1:
        notes.append(f"{entity}: every sample is {next(iter(values)):g}; deviation and adaptive "
                     "measures stay quiet on a constant series until it changes")
    if interval and len(points) > 1:
        gaps = [b[0] - a[0] for a, b in zip(points, points[1:])
                if b[0] - a[0] > GAP_INTERVALS * interval]
        if gaps:
            notes.append(f"{entity}: {len(gaps)} gap(s) longer than {GAP_INTERVALS:g} intervals "
                         f"(longest {_duration(max(gaps))}); measures continue across them "
                         "from the last sample, and only `missing` alerts on them")
    return notes


def _out_of_order(rows: Sequence[Any]) -> int:
    latest: dict[tuple[str, str], float] = {}
    late = 0
    for s in rows:
        key = (s[0], s[1])
        if key in latest and s[3] < latest[key]:
            late += 1
        else:
            latest[key] = s[3]
    return late


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"
