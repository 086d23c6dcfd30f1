"""Checks of a rule against its context: the metric catalogue, the metric's interval and
retention. Raise shared.errors.Invalid(field, message) naming the field and the fix."""
from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from shared.errors import Invalid

from .durations import parse_duration
from .spec import Condition, MetricSpec, RuleSpec

DAY = 86400.0
REFERENCE_SECONDS = {"day": DAY, "week": 7 * DAY, "year": 364 * DAY}  # year: same weekday
SEASON_SECONDS = {"1d": DAY, "1w": 7 * DAY}
NEEDS_INTERVAL = ("change", "peer", "streak", "forecast", "predict", "missing")
MAX_HORIZON_STEPS = 2_000  # a forecast path longer than this costs more than it tells


class PredictShape(NamedTuple):
    """A predict measure in samples: season period (1 = none), fit window, samples before
    the first forecast, samples between refits, forecast steps."""
    period: int
    window: int
    min_samples: int
    refit: int
    steps: int

    @classmethod
    def of(cls, spec: Any, interval: float) -> PredictShape:
        period = buckets_in(interval, SEASON_SECONDS[spec.season]) if spec.season else 1
        seasonal = period > 1
        window = spec.window or (3 * period if seasonal else 30)
        # statsmodels' heuristic start needs two whole seasons (or 10 samples) to fit.
        floor = 2 * period + 2 if seasonal else 10
        min_samples = max(spec.min_samples or (floor if seasonal else 12), floor)
        refit = spec.refit or (period if seasonal else 24)
        steps = int(parse_duration(spec.horizon) // interval)
        return cls(period, window, min(min_samples, window), refit, steps)


class Need(NamedTuple):
    field: str
    what: str
    seconds: float


def fmt_duration(seconds: float) -> str:
    """Seconds as the rule language writes them: 35d, 2h30m, 90s."""
    parts, rest = [], float(seconds)
    for unit, size in (("d", DAY), ("h", 3600), ("m", 60)):
        if rest >= size:
            count, rest = divmod(rest, size)
            parts.append(f"{int(count)}{unit}")
    if rest or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)


def interval_of(rule: RuleSpec, metric: MetricSpec | None) -> float | None:
    """The rule's interval, else its metric's, in seconds."""
    for given in (rule.interval, metric.interval if metric is not None else None):
        if given is not None:
            return parse_duration(given)
    return None


def leaves(rule: RuleSpec) -> Iterator[tuple[str, Condition]]:
    """(field path, measure condition) of every measure the rule evaluates, once each."""
    seen: set[str] = set()

    def walk(condition: Condition, path: str) -> Iterator[tuple[str, Condition]]:
        if condition.ref is not None:
            named = rule.conditions[condition.ref]
            yield from walk(named, f"conditions.{condition.ref}")
        elif condition.measure is not None and path not in seen:
            seen.add(path)
            yield path, condition
        for key in ("all", "any"):
            for i, child in enumerate(getattr(condition, key) or []):
                yield from walk(child, f"{path}.{key}[{i}]")
        if condition.not_ is not None:
            yield from walk(condition.not_, f"{path}.not")

    for path, trigger in rule.triggers():
        yield from walk(trigger, path)


def needs(rule: RuleSpec, metric: MetricSpec | None) -> list[Need]:
    """What history each part of the rule needs, in seconds."""
    interval = interval_of(rule, metric)
    found = [Need(name, f"`{name.rstrip('_')}` {value}", parse_duration(value))
             for name, value in (("for", rule.for_), ("clear_after", rule.clear_after))
             if isinstance(value, str)]
    for path, leaf in leaves(rule):
        kind, measure = leaf.measure, getattr(leaf, leaf.measure)
        if kind == "change":
            lag = REFERENCE_SECONDS.get(measure.reference, interval or 0.0)
            found.append(Need(f"{path}.change.reference", f"change vs {measure.reference}", lag))
        elif kind == "deviation" and interval:
            found.append(Need(f"{path}.deviation.window",
                              f"deviation window {measure.window}", measure.window * interval))
        elif kind == "forecast":
            found.append(Need(f"{path}.forecast.seasons", f"forecast over {measure.seasons} "
                              f"seasons of {measure.season}",
                              measure.seasons * SEASON_SECONDS[measure.season]))
        elif kind == "predict" and interval:
            shape = PredictShape.of(measure, interval)
            found.append(Need(f"{path}.predict.window", f"predict over {shape.window} samples",
                              shape.window * interval))
        elif kind == "missing":
            found.append(Need(f"{path}.missing.after", "missing after",
                              parse_duration(measure.after)))
        elif kind in ("peer", "streak") and interval:
            found.append(Need(f"{path}.{kind}", kind, interval))
    return found


def rule_horizon(rule: RuleSpec, metric: MetricSpec | None) -> float:
    """Seconds of history the rule needs: the longest of its measures and durations."""
    return max((n.seconds for n in needs(rule, metric)), default=0.0)


def check_rule(rule: RuleSpec, metrics: Mapping[str, MetricSpec]) -> None:
    """The rule's metric is known, its interval fits its measures and its metric keeps
    enough history."""
    if rule.metric not in metrics:
        close = difflib.get_close_matches(rule.metric, list(metrics), n=3, cutoff=0.8)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise Invalid("metric", f"unknown metric '{rule.metric}'; declare it under metrics: "
                      f"or send a sample first.{hint}")
    check_context(rule, metrics[rule.metric])


def check_context(rule: RuleSpec, metric: MetricSpec | None) -> None:
    """Interval and retention checks (retention only when the metric is declared)."""
    check_intervals(rule, metric)
    if metric is None:
        return
    retention = parse_duration(metric.retention)
    for need in needs(rule, metric):
        if need.seconds > retention:
            raise Invalid(need.field, f"{need.what} needs {fmt_duration(need.seconds)} of "
                          f"history but metric '{metric.name}' keeps {fmt_duration(retention)} "
                          "(retention); raise the metric's retention or ask for less history")


def check_intervals(rule: RuleSpec, metric: MetricSpec | None) -> None:
    interval = interval_of(rule, metric)
    for path, leaf in leaves(rule):
        kind, measure = leaf.measure, getattr(leaf, leaf.measure)
        if kind in NEEDS_INTERVAL and interval is None:
            raise Invalid(f"{path}.{kind}", f"measure '{kind}' counts in intervals, but neither "
                          f"the rule nor metric '{rule.metric}' gives an `interval`; set one")
        period, name = None, ""
        if kind == "change" and measure.reference in REFERENCE_SECONDS:
            period, name = REFERENCE_SECONDS[measure.reference], f"{path}.change.reference"
        elif kind == "forecast":
            period, name = SEASON_SECONDS[measure.season], f"{path}.forecast.season"
        elif kind == "predict":
            check_predict(path, measure, interval)
            if measure.season:
                period, name = SEASON_SECONDS[measure.season], f"{path}.predict.season"
        if period is not None and not _divides(interval, period):
            raise Invalid(name, f"the interval {fmt_duration(interval)} does not divide "
                          f"{fmt_duration(period)}, so the same time a period ago is not an "
                          "interval boundary; use an interval that divides it")


def check_predict(path: str, measure: Any, interval: float) -> None:
    horizon = parse_duration(measure.horizon)
    if horizon < interval:
        raise Invalid(f"{path}.predict.horizon", f"horizon {fmt_duration(horizon)} is shorter "
                      f"than the interval {fmt_duration(interval)}: the forecast would not "
                      "reach the next sample; give a horizon of at least one interval")
    if horizon / interval > MAX_HORIZON_STEPS:
        raise Invalid(f"{path}.predict.horizon", f"horizon {fmt_duration(horizon)} is "
                      f"{horizon / interval:.0f} intervals ahead; at most {MAX_HORIZON_STEPS} "
                      "are forecast: shorten the horizon or lengthen the interval")
    shape = PredictShape.of(measure, interval)
    if shape.period > 1 and shape.window < 2 * shape.period + 2:
        raise Invalid(f"{path}.predict.window", f"a seasonal model needs two whole seasons "
                      f"and a bit to fit: window {shape.window} is under "
                      f"{2 * shape.period + 2} samples; raise it or drop `season`")


def _divides(interval: float, period: float) -> bool:
    ratio = period / interval
    return ratio >= 1 and abs(ratio - round(ratio)) < 1e-9


def buckets_in(interval: float, period: float) -> int:
    return int(round(period / interval))
