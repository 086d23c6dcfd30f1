"""The rule language's measures as a rule writes them (docs/rules.md): what a condition
computes from a metric before its bounds compare it, each a strict model of its options.
The measures that compute live in measures/."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from shared.limits import MapKey

from .durations import Duration


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    @model_serializer(mode="wrap")
    def _drop_unset_options(self, handler: Any) -> Any:
        # Optional parts left out are dumped as absent, not null: dumps read like rules.
        return {k: v for k, v in handler(self).items() if v is not None}


# -- measures ----------------------------------------------------------------------------
class ValueMeasure(Strict):
    pass


class ChangeMeasure(Strict):
    reference: Literal["previous", "day", "week", "year"] = "previous"
    unit: Literal["pct", "abs"] = "pct"
    min_base: float = Field(0.0, ge=0)


class DeviationMeasure(Strict):
    method: Literal["zscore", "mad", "ewma"] = "zscore"
    window: int = Field(30, ge=2, le=10_000)
    min_samples: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _fits_window(self) -> DeviationMeasure:
        if self.min_samples is not None and self.method != "ewma" and self.min_samples > self.window:
            raise ValueError(f"min_samples {self.min_samples} can never be reached: the "
                             f"window keeps only {self.window} samples")
        return self

    @property
    def needed(self) -> int:
        return self.min_samples if self.min_samples is not None else max(3, self.window // 2)


class PeerMeasure(Strict):
    group_by: MapKey
    min_peers: int = Field(3, ge=1)
    # sigma: standard deviations of the group; pct: percent of the group's mean (与区域均值偏离)
    unit: Literal["sigma", "pct"] = "sigma"


class StreakMeasure(Strict):
    direction: Literal["down", "up"]


class ForecastMeasure(Strict):
    season: Literal["1d", "1w"] = "1d"
    seasons: int = Field(2, ge=1, le=520)


class PredictMeasure(Strict):
    """When the metric will cross the condition's bound at its current trend (and season):
    an ETS / Holt-Winters forecast, refitted every `refit` samples (docs/rules.md)."""
    horizon: Duration = Field(description="how far ahead a crossing is looked for, e.g. 3d")
    season: Literal["1d", "1w"] | None = None
    window: int | None = Field(None, ge=8, le=5_000, description="samples the model is "
                               "fitted on (default: 3 seasons, or 30 without a season)")
    min_samples: int | None = Field(None, ge=8, description="samples before the first "
                                    "forecast (default: 2 seasons + 2, or 12)")
    refit: int | None = Field(None, ge=1, description="samples between refits (default: "
                              "one season, or 24); between refits the model updates online")
    min_confidence: float = Field(0.5, gt=0, lt=1, description="how likely the crossing must "
                                  "be (at some step within the horizon) to warn")

    @model_validator(mode="after")
    def _fits_window(self) -> PredictMeasure:
        if self.window is not None and self.min_samples is not None \
                and self.min_samples > self.window:
            raise ValueError(f"min_samples {self.min_samples} can never be reached: the "
                             f"window keeps only {self.window} samples")
        return self


class AdaptiveMeasure(Strict):
    pass


class MissingMeasure(Strict):
    after: Duration
