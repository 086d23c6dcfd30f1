"""How unusual a value is against the series' own trailing history: zscore, mad, ewma."""
from __future__ import annotations

import warnings

import numpy as np

from .base import NAN, Measure, Round, Slots, rows, standardise

MAD_SCALE = 1.4826  # makes the MAD estimate σ for normally distributed values


class Window(Measure):
    """The last `window` values per slot in a ring; the current value is scored before it
    joins its own history."""
    kind = "deviation"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        self.width = spec.window
        self.state = Slots(ring=(np.float64, 0.0, self.width), seen=(np.int64, 0))

    def compute(self, rnd: Round) -> np.ndarray:
        if rnd.clock:
            return rnd.unknown()
        ring, seen, slots = self.state["ring"], self.state["seen"], rnd.slots
        count = rows(seen, slots).copy()
        history = rows(ring, slots)
        z = self.score(history, np.minimum(count, self.width), rnd.values)
        ring[slots, count % self.width] = rnd.values
        seen[slots] = count + 1
        return np.where(count >= self.spec.needed, z, NAN)

    def score(self, history: np.ndarray, filled: np.ndarray, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self, m: float) -> str:
        return f"{m:+.2f}σ ({self.spec.method}, window {self.spec.window})"


class ZScore(Measure):
    """Mean and σ of the window from running sums of (value − shift), O(1) per sample. The
    shift is re-centred and the sums recomputed exactly once per `window` samples, so
    rounding never accumulates and large offsets do not cancel."""
    kind = "deviation"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        self.width = spec.window
        self.state = Slots(ring=(np.float64, 0.0, self.width), seen=(np.int64, 0),
                           shift=(np.float64, 0.0), s1=(np.float64, 0.0), s2=(np.float64, 0.0))

    def compute(self, rnd: Round) -> np.ndarray:
        if rnd.clock:
            return rnd.unknown()
        st, slots, v, w = self.state, rnd.slots, rnd.values, self.width
        seen = st["seen"][slots]
        shift = np.where(seen == 0, v, st["shift"][slots])
        s1, s2 = st["s1"][slots], st["s2"][slots]
        n = np.maximum(np.minimum(seen, w), 1)
        mean = shift + s1 / n
        var = np.maximum(s2 / n - np.square(s1 / n), 0.0)
        z = np.where(seen >= self.spec.needed, standardise(v - mean, np.sqrt(var), mean), NAN)
        cell = slots * w + seen % w
        ring = st["ring"].reshape(-1)
        leaving = np.where(seen >= w, ring[cell] - shift, 0.0)
        joining = v - shift
        ring[cell] = v
        st["s1"][slots] = s1 + joining - leaving
        st["s2"][slots] = s2 + np.square(joining) - np.square(leaving)
        st["shift"][slots] = shift
        st["seen"][slots] = seen + 1
        # Each slot is re-centred once per `window` samples, staggered by slot so a batch
        # never re-centres every series at once.
        due = slots[((seen + 1 + slots) % w == 0) & (seen + 1 >= w)]
        if len(due):
            self._recentre(due)
        return z

    def _recentre(self, slots: np.ndarray) -> None:
        window = self.state["ring"][slots]
        centre = window.mean(axis=1)
        deviations = window - centre[:, None]
        self.state["shift"][slots] = centre
        self.state["s1"][slots] = deviations.sum(axis=1)
        self.state["s2"][slots] = np.square(deviations).sum(axis=1)

    def describe(self, m: float) -> str:
        return f"{m:+.2f}σ (zscore, window {self.spec.window})"


class Mad(Window):
    def score(self, history, filled, v):
        if not np.all(filled == self.width):
            mask = np.arange(self.width) < filled[:, None]
            history = np.where(mask, history, NAN)
        with warnings.catch_warnings():  # all-NaN rows of young series are expected
            warnings.simplefilter("ignore", RuntimeWarning)
            median = np.nanmedian(history, axis=1)
            mad = np.nanmedian(np.abs(history - median[:, None]), axis=1) * MAD_SCALE
        return standardise(v - median, mad, median)


class Ewma(Measure):
    """Exponentially weighted mean and variance; `window` is the span."""
    kind = "deviation"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        self.alpha = 2.0 / (spec.window + 1.0)
        self.state = Slots(mean=(np.float64, NAN), var=(np.float64, 0.0), seen=(np.int64, 0))

    def compute(self, rnd: Round) -> np.ndarray:
        if rnd.clock:
            return rnd.unknown()
        mean_c, var_c, seen_c, slots = self.state["mean"], self.state["var"], self.state["seen"], rnd.slots
        mean, var, seen, v = mean_c[slots], var_c[slots], seen_c[slots], rnd.values
        z = standardise(v - mean, np.sqrt(var), mean)
        first = seen == 0
        diff = np.where(first, 0.0, v - mean)
        step = self.alpha * diff
        mean_c[slots] = np.where(first, v, mean + step)
        var_c[slots] = np.where(first, 0.0, (1 - self.alpha) * (var + diff * step))
        seen_c[slots] = seen + 1
        return np.where(seen >= self.spec.needed, z, NAN)

    def describe(self, m: float) -> str:
        return f"{m:+.2f}σ (ewma, span {self.spec.window})"

