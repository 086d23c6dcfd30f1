"""What a backtest should say about its history before anyone trusts its numbers: rows out
of order, repeated times, gaps, constant series, too little history (docs/backtesting.md).
Computed on the history's columns (columns.py), one series at a time, without a Python step
per sample."""
from __future__ import annotations

import numpy as np

from .columns import Columns

GAP_INTERVALS = 3.0   # a pause longer than this many intervals is reported as a gap


def history_notes(columns: Columns, interval: float | None, warmup: int | None) -> list[str]:
    """Plain-language notes on the watched samples; ``warmup`` is the adaptive measure's
    warm-up when the rule uses it."""
    notes = []
    late = _out_of_order(columns)
    if late:
        notes.append(f"{late} row(s) came earlier than a row before them; the replay sorted "
                     "the history by time (as the live detector would refuse them, send "
                     "samples in time order)")
    # Each series' samples in time order, series by series in order of first appearance.
    sid = columns.series
    index = columns.order[np.argsort(sid[columns.order], kind="stable")]
    ts, values = columns.ts[index], columns.values[index]
    bounds = _bounds(sid[index])
    same = (ts[1:] == ts[:-1]) & (sid[index][1:] == sid[index][:-1])
    repeated = int(np.count_nonzero(same))
    if repeated:
        notes.append(f"{repeated} sample(s) repeat a time already seen for their series; the "
                     "later ones were refused and counted as rejected (keep one row per time)")
    spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    for lo, hi in sorted(spans, key=lambda span: columns.first_in_time[sid[index[span[0]]]]):
        entity = columns.keys[int(sid[index[lo]])][1]
        notes.extend(_series_notes(entity, ts[lo:hi], values[lo:hi], interval, warmup))
    return notes


def _series_notes(entity: str, ts: np.ndarray, values: np.ndarray, interval: float | None,
                  warmup: int | None) -> list[str]:
    notes = []
    n = len(ts)
    if n == 1:
        notes.append(f"{entity}: a single sample; a change, a deviation or an adaptive score "
                     "needs history, so only `value` bounds can fire")
    elif warmup and n < warmup:
        notes.append(f"{entity}: {n} samples; the adaptive score starts after "
                     f"{warmup} (its warm-up), so it never scored here")
    if n > 1 and values.min() == values.max():
        notes.append(f"{entity}: every sample is {float(values[0]):g}; deviation and adaptive "
                     "measures stay quiet on a constant series until it changes")
    if interval and n > 1:
        steps = np.diff(ts)
        gaps = steps[steps > GAP_INTERVALS * interval]
        if len(gaps):
            notes.append(f"{entity}: {len(gaps)} gap(s) longer than {GAP_INTERVALS:g} intervals "
                         f"(longest {_duration(float(gaps.max()))}); measures continue across "
                         "them from the last sample, and only `missing` alerts on them")
    return notes


def _out_of_order(columns: Columns) -> int:
    """Rows earlier than the latest time their series had shown before them (as given)."""
    by_series = np.argsort(columns.series, kind="stable")
    ts = columns.ts[by_series]
    bounds = _bounds(columns.series[by_series])
    late = 0
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        t = ts[lo:hi]
        late += int(np.count_nonzero(t[1:] < np.maximum.accumulate(t)[:-1]))
    return late


def _bounds(series: np.ndarray) -> np.ndarray:
    """Where each run of one series id starts, and the end."""
    return np.flatnonzero(np.r_[True, series[1:] != series[:-1], True]) if len(series) \
        else np.zeros(1, dtype=np.int64)


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"
