"""Measures computed along time for one series at once, with the very arithmetic the live
measures do sample by sample (services/detector/rules/measures), so a replay gives the same
alerts either way (tests/unit/test_backtest_vectorised.py checks it on random series).

Vectorised: value, change, streak, deviation (zscore, mad; ewma's recurrence runs as a plain
float loop, which is IEEE-identical). Not here: peer (needs the other series of each
interval), forecast and adaptive (state updated through a per-sample model), missing (runs on
the clock); rules using them replay through the engine."""
from __future__ import annotations

import math

import numpy as np

from ..measures import Measure
from ..measures.base import NAN, standardise
from ..measures.deviation import MAD_SCALE

ALONG_TIME = ("value", "change", "streak", "deviation")
MAD_CHUNK = 1 << 15   # rows of the sliding MAD window computed at once (memory bound)


def supported(measure: Measure) -> bool:
    if measure.kind not in ALONG_TIME:
        return False
    if measure.kind == "change":
        return measure.interval is not None and measure.lag >= 1
    return True


def compute(measure: Measure, ts: np.ndarray, values: np.ndarray, bucket: np.ndarray | None,
            slot: int) -> np.ndarray:
    """The measure's value at every accepted sample of one series (NaN = not known).
    `slot` is the rule-local slot the engine would give the series (zscore re-centres on it)."""
    kind = measure.kind
    if kind == "value":
        return values
    if kind == "change":
        return _change(measure, values, bucket)
    if kind == "streak":
        return _streak(measure.spec.direction, values)
    method = measure.spec.method
    if method == "zscore":
        return _zscore(values, measure.width, slot, measure.spec.needed)
    if method == "mad":
        return _mad(measure, values)
    return _ewma(values, measure.alpha, measure.spec.needed)


def _change(measure, v: np.ndarray, b: np.ndarray) -> np.ndarray:
    lag = measure.lag
    # The reference is the last sample of bucket b − lag (the ring cell it would be read from).
    j = np.searchsorted(b, b - lag, side="right") - 1
    safe = np.maximum(j, 0)
    known = (j >= 0) & (b[safe] == b - lag)
    base = v[safe]
    if measure.spec.unit == "abs":
        return np.where(known, v - base, NAN)
    size = np.abs(base)
    known &= (size > 0) & (size >= measure.spec.min_base)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(known, (v - base) / size * 100.0, NAN)


def _streak(direction: str, v: np.ndarray) -> np.ndarray:
    moved = np.zeros(len(v), dtype=bool)
    moved[1:] = v[1:] < v[:-1] if direction == "down" else v[1:] > v[:-1]
    index = np.arange(len(v))
    reset = np.maximum.accumulate(np.where(moved, -1, index))
    return (index - reset).astype(np.int32).astype(np.float64)


def _ewma(v: np.ndarray, alpha: float, needed: int) -> np.ndarray:
    n = len(v)
    means, variances = np.empty(n), np.empty(n)
    mean, var, keep = math.nan, 0.0, 1 - alpha
    for k, x in enumerate(v.tolist()):   # a float recurrence: the same IEEE steps as numpy's
        means[k], variances[k] = mean, var
        if k == 0:
            mean, var = x, 0.0
        else:
            diff = x - mean
            step = alpha * diff
            mean = mean + step
            var = keep * (var + diff * step)
    z = standardise(v - means, np.sqrt(variances), means)
    return np.where(np.arange(n) >= needed, z, NAN)


def _mad(measure, v: np.ndarray) -> np.ndarray:
    """Median and MAD of each sample's trailing window. A median does not depend on the
    order the ring keeps the window in; full windows hold no NaN, where np.median equals the
    live np.nanmedian; young windows go through the live measure's scoring. Each row is
    sorted (numpy's SIMD sort) and its middle read off, with np.median's own arithmetic:
    several times faster than np.median's partition over the strided windows."""
    n, w = len(v), measure.width
    out = np.full(n, NAN)
    padded = np.concatenate([np.zeros(w), v])
    windows = np.lib.stride_tricks.sliding_window_view(padded, w)   # row k: the w before k
    young = min(n, w)
    if young:
        history = np.array(windows[:young])
        for r in range(young):   # the filled cells first, as in the ring
            history[r, :r] = v[:r]
        k = np.arange(young)
        out[:young] = measure.score(history, k, v[:young])
    for lo in range(young, n, MAD_CHUNK):
        hi = min(n, lo + MAD_CHUNK)
        ordered = np.sort(windows[lo:hi], axis=1)
        median = _middle(ordered)
        mad = _middle(np.sort(np.abs(ordered - median[:, None]), axis=1)) * MAD_SCALE
        out[lo:hi] = standardise(v[lo:hi] - median, mad, median)
    return np.where(np.arange(n) >= measure.spec.needed, out, NAN)


def _middle(ordered: np.ndarray) -> np.ndarray:
    """The median of each sorted row, as np.median gives it: the middle value, or the mean
    of the middle two ((a + b) / 2, the same float np.mean of two gives)."""
    half = ordered.shape[1] // 2
    if ordered.shape[1] % 2:
        return ordered[:, half].copy()
    return (ordered[:, half - 1] + ordered[:, half]) / 2


def _zscore(x: np.ndarray, w: int, slot: int, needed: int) -> np.ndarray:
    """Running sums of (value − shift), re-centred once per `w` samples at the same steps as
    the live measure: the sums between two re-centrings are cumulative sums (sequential, as
    the live additions), each segment's start comes from the window it re-centres on."""
    n = len(x)
    first = w + (-slot) % w                       # steps where a segment starts: 0, first, +w…
    starts = np.r_[0, np.arange(first, n, w)] if first < n else np.array([0])
    shift, s1, s2 = np.empty(len(starts)), np.zeros(len(starts)), np.zeros(len(starts))
    shift[0] = x[0]
    if len(starts) > 1:
        last = starts[1:] - 1                     # the ring after that step, cell by cell
        cells = last[:, None] - ((last[:, None] - np.arange(w)) % w)
        window = x[cells]
        centre = window.mean(axis=1)
        deviations = window - centre[:, None]
        shift[1:], s1[1:] = centre, deviations.sum(axis=1)
        s2[1:] = np.square(deviations).sum(axis=1)
    lengths = np.diff(np.r_[starts, n])
    seg = np.repeat(np.arange(len(starts)), lengths)
    k = np.arange(n)
    at = k - starts[seg]
    joining = x - shift[seg]
    leaving = np.where(k >= w, x[np.maximum(k - w, 0)] - shift[seg], 0.0)
    width = 1 + 2 * int(lengths.max())
    before1 = _segment_sums(s1, seg, at, joining, leaving, width)
    before2 = _segment_sums(s2, seg, at, np.square(joining), np.square(leaving), width)
    count = np.maximum(np.minimum(k, w), 1)
    mean = shift[seg] + before1 / count
    var = np.maximum(before2 / count - np.square(before1 / count), 0.0)
    return np.where(k >= needed, standardise(x - mean, np.sqrt(var), mean), NAN)


def _segment_sums(start: np.ndarray, seg: np.ndarray, at: np.ndarray, plus: np.ndarray,
                  minus: np.ndarray, width: int) -> np.ndarray:
    """The running sum before each step: start, + plus, − minus, + plus, … per segment."""
    grid = np.zeros((len(start), width))
    grid[:, 0] = start
    grid[seg, 1 + 2 * at] = plus
    grid[seg, 2 + 2 * at] = -minus
    sums = np.cumsum(grid, axis=1)
    return sums[seg, 2 * at]
