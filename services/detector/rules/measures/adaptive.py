"""The adaptive anomaly score (docs/adaptive.md): one scorer object per series, so this is
the one measure evaluated in a Python loop."""
from __future__ import annotations

import math
import pickle

import numpy as np

from .base import NAN, Measure, Round


def threshold() -> float:
    from services.detector.adaptive import ANOMALY_THRESHOLD
    return float(ANOMALY_THRESHOLD)


class Adaptive(Measure):
    kind = "adaptive"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        from services.detector.adaptive import AdaptiveScorer  # written alongside this engine
        self.scorer_type = AdaptiveScorer
        self.scorers: list = []

    def grow(self, slots: int, series: int) -> None:
        self.scorers.extend(self.scorer_type() for _ in range(slots - len(self.scorers)))

    def compute(self, rnd: Round) -> np.ndarray:
        if rnd.clock:
            return rnd.unknown()
        scores = np.empty(len(rnd.slots))
        for i, (slot, value, ts) in enumerate(zip(rnd.slots.tolist(), rnd.values.tolist(),
                                                  rnd.ts.tolist())):
            score = self.scorers[slot].update(value, ts)
            scores[i] = score if score is not None and math.isfinite(score) else NAN
        return scores

    @property
    def bytes_per_slot(self) -> int:
        # An estimate: the pickled size of one scorer.
        return len(pickle.dumps(self.scorers[0])) if self.scorers else 0

    def describe(self, m: float) -> str:
        return f"adaptive score {m:.2f}"
