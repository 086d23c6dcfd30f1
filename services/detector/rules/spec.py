"""The rule language (docs/rules.md) as pydantic models: parsing and structural validation.
Context checks that need the metric catalogue live in catalogue.py."""
from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.limits import ITEMS, MANY, MAP_KEYS, Labels, LongText, MapKey, Name, ShortText

from .durations import Duration, DurationText
from .measure_specs import (AdaptiveMeasure, ChangeMeasure, DeviationMeasure, ForecastMeasure,
                           MissingMeasure, PeerMeasure, PredictMeasure, Strict, StreakMeasure,
                           ValueMeasure)
from .structure import check_bands, check_bounded, check_bounds, check_refs

Level = Literal["P0", "P1", "P2", "P3"]
MEASURES = ("value", "change", "deviation", "peer", "streak", "forecast", "predict", "adaptive",
            "missing")
BOUNDS = ("above", "at_least", "below", "at_most", "between", "outside")
COMBINATIONS = ("all", "any", "not_")


class Graded(BaseModel):
    """A bound graded by entity class: `{by: size, large: 5, "*": 4}`."""
    model_config = ConfigDict(extra="allow")
    by: MapKey
    __pydantic_extra__: dict[str, float] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _needs_by(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "by" not in data:
            raise ValueError("a class-graded bound needs `by`: the label whose value picks "
                             "the bound, e.g. {by: size, large: 5, \"*\": 4}")
        return data

    @model_validator(mode="after")
    def _needs_a_class(self) -> Graded:
        if not self.classes:
            raise ValueError(f"a bound graded by '{self.by}' needs at least one class value "
                             "(or \"*\" for every class)")
        if len(self.classes) > MAP_KEYS:
            raise ValueError(f"a graded bound has at most {MAP_KEYS} classes; "
                             f"this one has {len(self.classes)}")
        return self

    @property
    def classes(self) -> dict[str, float]:
        return dict(self.__pydantic_extra__ or {})

    def for_class(self, value: str | None) -> float | None:
        classes = self.classes
        return classes.get(value, classes.get("*")) if value is not None else classes.get("*")


Bound = float | Graded
Pair = tuple[float, float]


class Condition(Strict):
    """A measure compared with bounds, a combination (all/any/not), or a ref to a named one."""
    value: ValueMeasure | None = None
    change: ChangeMeasure | None = None
    deviation: DeviationMeasure | None = None
    peer: PeerMeasure | None = None
    streak: StreakMeasure | None = None
    forecast: ForecastMeasure | None = None
    predict: PredictMeasure | None = None
    adaptive: AdaptiveMeasure | None = None
    missing: MissingMeasure | None = None
    above: Bound | None = None
    at_least: Bound | None = None
    below: Bound | None = None
    at_most: Bound | None = None
    between: Pair | None = None
    outside: Pair | None = None
    all: list[Condition] | None = Field(None, min_length=1, max_length=ITEMS)
    any: list[Condition] | None = Field(None, min_length=1, max_length=ITEMS)
    not_: Condition | None = Field(None, alias="not")
    ref: Name | None = None

    @property
    def measure(self) -> str | None:
        return next((m for m in MEASURES if getattr(self, m) is not None), None)

    @property
    def bounds(self) -> dict[str, Any]:
        return {b: getattr(self, b) for b in BOUNDS if getattr(self, b) is not None}

    @property
    def children(self) -> list[Condition]:
        return [*(self.all or []), *(self.any or []), *([self.not_] if self.not_ else [])]

    @model_validator(mode="after")
    def _one_shape(self) -> Condition:
        measures = [m for m in MEASURES if getattr(self, m) is not None]
        combos = [c.rstrip("_") for c in COMBINATIONS if getattr(self, c) is not None]
        kinds = measures + combos + (["ref"] if self.ref is not None else [])
        if not kinds:
            raise ValueError("a condition needs one measure (" + ", ".join(MEASURES) +
                             "), a combination (all, any, not) or a ref")
        if len(kinds) > 1:
            raise ValueError(f"a condition has exactly one measure, combination or ref; "
                             f"this one has {', '.join(kinds)}: nest them under all/any")
        if combos and self.bounds:
            raise ValueError(f"bounds ({', '.join(self.bounds)}) go on a measure, not on "
                             f"'{combos[0]}': move them into its conditions")
        if measures == ["missing"] and self.bounds:
            raise ValueError("missing takes no bound: its `after` is the bound")
        if measures == ["predict"] and len(self.bounds) > 1:
            raise ValueError(f"predict takes one bound, the level whose crossing it forecasts; "
                             f"this one has {', '.join(self.bounds)}: use one per condition")
        check_bounds(self.bounds)
        return self


class Band(Strict):
    level: Level
    when: Condition


class Budget(Strict):
    per_day: int | dict[Level, int]

    @field_validator("per_day")
    @classmethod
    def _not_negative(cls, value: int | dict[str, int]) -> int | dict[str, int]:
        counts = value.values() if isinstance(value, dict) else [value]
        if any(n < 0 for n in counts):
            raise ValueError("per_day counts raises allowed per UTC day: it cannot be negative")
        return value


Count = Annotated[int, Field(ge=1)]


class CountSpec(Strict):
    """A counted metric: its samples are counts of events posted to POST /v1/events, one
    count per entity and window (docs/rules.md, Counted events)."""
    window: Duration = Field(description="tumbling window the events are counted in, e.g. 1d")
    time_zone: ShortText = Field("UTC", description="IANA zone windows start in (local "
                                 "midnight for 1d), e.g. Asia/Shanghai")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
            raise ValueError(f"'{value}' is not an IANA time zone, e.g. Asia/Shanghai") from None
        return value


class MetricSpec(Strict):
    name: Name
    interval: Duration | None = None
    retention: Duration = "35d"
    unit: ShortText = ""
    description: LongText = ""
    count: CountSpec | None = Field(None, description="set: a counted metric, fed by events")


class RuleSpec(Strict):
    name: Name
    metric: Name
    match: Labels = {}
    description: LongText = ""
    interval: Duration | None = None
    conditions: dict[MapKey, Condition] = Field({}, max_length=ITEMS)
    when: Condition | None = None
    severity: Level | None = None
    bands: list[Band] | None = Field(None, min_length=1, max_length=ITEMS)
    for_: Count | DurationText = Field(1, alias="for")
    clear_after: Count | DurationText = 1
    budget: Budget | None = None
    enabled: bool = True
    # Trial mode (内部试运行): the rule raises alerts that open incidents as usual, but the
    # notifier tells nobody about them; their timelines say so.
    trial: bool = Field(False, description="trial mode (内部试运行): alerts are raised and "
                        "incidents opened, but nobody is notified")
    # Near misses (险些触发): the share of the threshold's size within which a value on the
    # safe side is published as RuleNearMiss; unset: 10 %, 0: never (docs/rules.md).
    near_miss: float | None = Field(None, ge=0, lt=1, description="share of the threshold "
                                    "within which a value counts as a near miss (default "
                                    "0.1; 0 turns near misses off)")

    @model_validator(mode="after")
    def _coherent(self) -> RuleSpec:
        if self.bands is not None and (self.when is not None or self.severity is not None):
            raise ValueError("a rule has either `when` + `severity` (one level) or `bands` "
                             "(graded levels), not both")
        if self.bands is None and (self.when is None or self.severity is None):
            missing = "severity" if self.when is not None else "when"
            raise ValueError(f"a rule needs `when` + `severity` or `bands`: `{missing}` is missing")
        check_refs(self.conditions, self.triggers())
        check_bounded(self.conditions, self.triggers())
        if self.bands is not None:
            check_bands([(b.level, b.when) for b in self.bands], self.conditions)
        from .near_miss import check_near_miss  # it reads these models
        why = check_near_miss(self)
        if why is not None:
            raise ValueError(why)
        return self

    def triggers(self) -> list[tuple[str, Condition]]:
        """(field path, condition) of what decides the rule: `when` or each band's `when`."""
        if self.bands is not None:
            return [(f"bands[{i}].when", b.when) for i, b in enumerate(self.bands)]
        return [("when", self.when)] if self.when is not None else []


class RulesFile(Strict):
    version: Literal[1] = 1
    metrics: list[MetricSpec] = Field([], max_length=MANY)
    rules: list[RuleSpec] = Field([], max_length=MANY)

    @model_validator(mode="after")
    def _unique_names(self) -> RulesFile:
        for kind, names in (("metric", [m.name for m in self.metrics]),
                            ("rule", [r.name for r in self.rules])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{kind} names must be unique; declared twice: {', '.join(twice)}")
        return self


def load_rules_file(text: str) -> RulesFile:
    """A rules file as YAML or JSON text (JSON is YAML); validation errors propagate."""
    return RulesFile.model_validate(yaml.safe_load(text) or {})


def definition_of(rule: RuleSpec) -> dict[str, Any]:
    """A rule's stored JSON form: what was said, without the unset options; `rules apply`
    compares these to decide what changed."""
    definition = rule.model_dump(mode="json", by_alias=True, exclude_none=True)
    if not definition.get("trial"):  # rules stored before trial mode read the same as before
        definition.pop("trial", None)
    return definition
