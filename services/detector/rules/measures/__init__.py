"""Vectorised measure evaluators, one class per measure of the rule language."""
from __future__ import annotations

from typing import Any

from .adaptive import Adaptive, threshold as adaptive_threshold
from .base import Measure, Round, Slots
from .deviation import Ewma, Mad, ZScore
from .forecast import Forecast
from .peer import Peer
from .predict import Predict
from .simple import Change, Missing, Streak, Value

_BY_KIND = {"value": Value, "change": Change, "peer": Peer, "streak": Streak,
            "forecast": Forecast, "predict": Predict, "adaptive": Adaptive, "missing": Missing}
_DEVIATION = {"zscore": ZScore, "mad": Mad, "ewma": Ewma}


def build_measure(kind: str, spec: Any, interval: float | None) -> Measure:
    cls = _DEVIATION[spec.method] if kind == "deviation" else _BY_KIND[kind]
    return cls(spec, interval)


__all__ = ["Measure", "Round", "Slots", "adaptive_threshold", "build_measure"]
