"""Seasonal forecast: an additive Holt-Winters-style model learnt online per series."""
from __future__ import annotations

import numpy as np

from ..catalogue import SEASON_SECONDS, buckets_in
from .base import NAN, NEVER, Measure, Round, Slots

LEVEL_RATE = 0.1     # how fast the level follows the data
SEASON_RATE = 0.2    # how fast each season slot's offset follows
SIGMA_RATE = 0.1     # how fast the residual variance follows
SIGMA_FLOOR = 1e-6   # relative: a perfectly predictable series that breaks is far off


class Forecast(Measure):
    """Level + seasonal offset per phase of the season; the first season seeds the offsets,
    residual σ is an EWMA of squared forecast errors."""
    kind = "forecast"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        self.period = buckets_in(interval, SEASON_SECONDS[spec.season])
        self.state = Slots(level=(np.float64, NAN), season=(np.float64, 0.0, self.period),
                           var=(np.float64, NAN), first=(np.int64, NEVER))

    def compute(self, rnd: Round) -> np.ndarray:
        if rnd.clock:
            return rnd.unknown()
        st, slots, v, b = self.state, rnd.slots, rnd.values, rnd.bucket
        first = st["first"][slots]
        fresh = first == NEVER
        first = np.where(fresh, b, first)
        level = np.where(fresh, v, st["level"][slots])
        phase = b % self.period
        offset = st["season"][slots, phase]
        residual = v - (level + offset)
        var = st["var"][slots]
        sigma = np.maximum(np.sqrt(var), SIGMA_FLOOR * np.maximum(np.abs(level), 1.0))
        age = b - first
        z = np.where(age >= self.spec.seasons * self.period, residual / sigma, NAN)
        seeding = age < self.period  # first season: learn the profile around the first value
        new_level = np.where(seeding, level, LEVEL_RATE * (v - offset) + (1 - LEVEL_RATE) * level)
        st["season"][slots, phase] = np.where(
            seeding, v - level, SEASON_RATE * (v - new_level) + (1 - SEASON_RATE) * offset)
        st["var"][slots] = np.where(seeding, var, np.where(
            np.isnan(var), residual ** 2, SIGMA_RATE * residual ** 2 + (1 - SIGMA_RATE) * var))
        st["level"][slots] = new_level
        st["first"][slots] = first
        return z

    def describe(self, m: float) -> str:
        return f"{m:+.2f}σ from the {self.spec.season} seasonal forecast"
