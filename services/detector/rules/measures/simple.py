"""Measures of the sample itself and its recent past: value, change vs a reference period,
streak, and the clock-driven missing."""
from __future__ import annotations

import numpy as np

from ..catalogue import REFERENCE_SECONDS, buckets_in, fmt_duration
from ..durations import parse_duration
from .base import NAN, NEVER, Measure, Round, Slots


class Value(Measure):
    kind = "value"

    def compute(self, rnd: Round) -> np.ndarray:
        return rnd.unknown() if rnd.clock else rnd.values

    def describe(self, m: float) -> str:
        return ""


class Change(Measure):
    """Ring of (bucket stamp, value) per slot, one cell per interval of the reference lag
    plus one, so the current bucket never overwrites the cell it reads."""
    kind = "change"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        period = REFERENCE_SECONDS.get(spec.reference, interval)
        self.lag = buckets_in(interval, period)
        width = self.lag + 1
        self.state = Slots(stamp=(np.int64, NEVER, width), value=(np.float64, NAN, width))

    def compute(self, rnd: Round) -> np.ndarray:
        if rnd.clock:
            return rnd.unknown()
        stamp, value = self.state["stamp"].reshape(-1), self.state["value"].reshape(-1)
        width, b = self.lag + 1, rnd.bucket
        row = rnd.slots * width  # flat indexing: much faster than 2-d fancy indexing
        ref_cell = row + (b - self.lag) % width
        base = value[ref_cell]
        known = stamp[ref_cell] == b - self.lag
        cell = row + b % width
        stamp[cell] = b
        value[cell] = rnd.values
        if self.spec.unit == "abs":
            return np.where(known, rnd.values - base, NAN)
        size = np.abs(base)
        known &= (size > 0) & (size >= self.spec.min_base)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(known, (rnd.values - base) / size * 100.0, NAN)

    def describe(self, m: float) -> str:
        unit = "%" if self.spec.unit == "pct" else ""
        return f"{m:+.1f}{unit} vs {self.spec.reference}"


class Streak(Measure):
    kind = "streak"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        self.state = Slots(last=(np.float64, NAN), count=(np.int32, 0))

    def compute(self, rnd: Round) -> np.ndarray:
        if rnd.clock:
            return rnd.unknown()
        last, count, slots = self.state["last"], self.state["count"], rnd.slots
        before = last[slots]
        moved = rnd.values < before if self.spec.direction == "down" else rnd.values > before
        counted = np.where(moved, count[slots] + 1, 0)
        count[slots] = counted
        last[slots] = rnd.values
        return counted.astype(np.float64)

    def describe(self, m: float) -> str:
        return f"{m:g} intervals {self.spec.direction} in a row"


class Missing(Measure):
    """Seconds since the series' last sample; 0 at a sample, known on the clock once the
    series has reported."""
    kind = "missing"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        self.after = parse_duration(spec.after)
        self.state = Slots(last=(np.float64, NAN))

    def compute(self, rnd: Round) -> np.ndarray:
        last = self.state["last"]
        if rnd.clock:
            return rnd.now - last[rnd.slots]
        last[rnd.slots] = rnd.ts
        return np.zeros(len(rnd.slots))

    def describe(self, m: float) -> str:
        return f"no sample for {fmt_duration(round(m))}"
