"""Conditions compiled to array evaluators with three-valued logic: each node yields
(holds, fails); a sample in neither is unknown, and unknown never holds, negated or not."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .measures import Measure, Round, adaptive_threshold, build_measure
from .catalogue import fmt_duration
from .durations import parse_duration
from .spec import Condition
from .structure import measure_key, resolve_leaf

_COMPARE = {
    "above": lambda m, t: m > t, "at_least": lambda m, t: m >= t,
    "below": lambda m, t: m < t, "at_most": lambda m, t: m <= t,
    "between": lambda m, t: (m >= t[0]) & (m <= t[1]),
    "outside": lambda m, t: (m < t[0]) | (m > t[1]),
}


class Check:
    """One bound. A graded bound keeps its threshold per series (NaN: class not evaluated)."""

    def __init__(self, kind: str, bound: Any) -> None:
        self.kind, self.bound = kind, bound
        self.graded = hasattr(bound, "classes")
        self.per_series = np.full(0, np.nan)

    def grow(self, series: int) -> None:
        if self.graded and series > len(self.per_series):
            fresh = np.full(max(series, 2 * len(self.per_series), 64), np.nan)
            fresh[:len(self.per_series)] = self.per_series
            self.per_series = fresh

    def observe(self, sid: int, labels: Mapping[str, str]) -> None:
        if self.graded:
            value = self.bound.for_class(labels.get(self.bound.by))
            self.per_series[sid] = np.nan if value is None else value

    def apply(self, m: np.ndarray, rnd: Round) -> tuple[np.ndarray | None, np.ndarray]:
        if not self.graded:
            return None, _COMPARE[self.kind](m, self.bound)
        threshold = self.per_series[rnd.series]
        return ~np.isnan(threshold), _COMPARE[self.kind](m, threshold)

    def text(self, sid: int) -> str:
        if self.kind in ("between", "outside"):
            return f"{self.kind} {self.bound[0]:g} and {self.bound[1]:g}"
        if self.graded:
            return f"{self.kind} {self.per_series[sid]:g} (by {self.bound.by})"
        return f"{self.kind} {self.bound:g}"


class Node:
    holds: np.ndarray
    fails: np.ndarray

    def evaluate(self, measured: Mapping[str, np.ndarray], rnd: Round) -> np.ndarray:
        raise NotImplementedError

    def explain(self, i: int, sid: int) -> str:
        raise NotImplementedError

    def prediction(self, i: int) -> tuple[float, float] | None:
        """(predicted crossing time, confidence) when a predict measure made sample i hold."""
        for child in getattr(self, "children", ()):
            if child.holds[i] and (found := child.prediction(i)) is not None:
                return found
        return None


class Leaf(Node):
    def __init__(self, key: str, measure: Measure, checks: list[Check]) -> None:
        self.key, self.measure, self.checks = key, measure, checks

    def evaluate(self, measured, rnd):
        self.m = m = measured[self.key]
        known, ok = ~np.isnan(m), None
        for check in self.checks:
            has, passed = check.apply(m, rnd)
            known = known if has is None else known & has
            ok = passed if ok is None else ok & passed
        self.holds, self.fails = known & ok, known & ~ok
        return self.holds

    def explain(self, i, sid):
        said = self.measure.describe(float(self.m[i]))
        bounds = ", ".join(c.text(sid) for c in self.checks)
        if self.measure.kind == "missing":
            return said
        return f"{said}, {bounds}" if said else bounds


class PredictLeaf(Leaf):
    """A predict measure's one bound, checked against the forecast path: it holds when, at
    some step within the horizon, the value satisfies the bound with at least the measure's
    `min_confidence`; the first such step is the predicted crossing."""

    def evaluate(self, measured, rnd):
        (check,) = self.checks
        self.m = m = measured[self.key]
        known = ~np.isnan(m)
        bound = check.per_series[rnd.series] if check.graded else check.bound
        if check.graded:
            known &= ~np.isnan(bound)
        chance = self.measure.chance(check.kind, bound) if len(m) else np.empty((0, 1))
        hit = chance >= self.measure.spec.min_confidence
        first = hit.argmax(axis=1)
        self.lead = (first + 1) * self.measure.interval
        self.at = rnd.ts + self.lead
        self.confidence = np.nan_to_num(chance.max(axis=1, initial=0.0))
        hits = hit.any(axis=1)
        self.holds, self.fails = known & hits, known & ~hits
        return self.holds

    def prediction(self, i):
        return float(self.at[i]), float(self.confidence[i])

    def explain(self, i, sid):
        (check,) = self.checks
        return (f"at this rate it goes {check.text(sid)} in about "
                f"{fmt_duration(_about(float(self.lead[i])))} "
                f"({self.confidence[i]:.0%} sure, horizon {self.measure.spec.horizon})")


def _about(seconds: float) -> float:
    """A lead time as people say it: whole hours past a day, whole minutes past an hour."""
    unit = 3600.0 if seconds >= 86400 else 60.0 if seconds >= 3600 else 1.0
    return round(seconds / unit) * unit


class All(Node):
    def __init__(self, children: list[Node]) -> None:
        self.children = children

    def evaluate(self, measured, rnd):
        for child in self.children:
            child.evaluate(measured, rnd)
        self.holds = np.logical_and.reduce([c.holds for c in self.children])
        self.fails = np.logical_or.reduce([c.fails for c in self.children])
        return self.holds

    def explain(self, i, sid):
        return " and ".join(c.explain(i, sid) for c in self.children)


class Any_(All):
    def evaluate(self, measured, rnd):
        for child in self.children:
            child.evaluate(measured, rnd)
        self.holds = np.logical_or.reduce([c.holds for c in self.children])
        self.fails = np.logical_and.reduce([c.fails for c in self.children])
        return self.holds

    def explain(self, i, sid):
        return " or ".join(c.explain(i, sid) for c in self.children if c.holds[i])


class Not(Node):
    def __init__(self, child: Node) -> None:
        self.child = child

    def evaluate(self, measured, rnd):
        self.child.evaluate(measured, rnd)
        self.holds, self.fails = self.child.fails, self.child.holds
        return self.holds

    def explain(self, i, sid):
        return f"not ({self.child.explain(i, sid)})"


class Compiler:
    """Builds nodes for a rule; leaves with the same measure share one evaluator."""

    def __init__(self, named: Mapping[str, Condition], interval: float | None) -> None:
        self.named, self.interval = named, interval
        self.measures: dict[str, Measure] = {}
        self.checks: list[Check] = []

    def compile(self, condition: Condition) -> Node:
        leaf = resolve_leaf(condition, self.named)
        if leaf is not None:
            return self._leaf(leaf)
        if condition.ref is not None:
            return self.compile(self.named[condition.ref])
        if condition.not_ is not None:
            return Not(self.compile(condition.not_))
        children = [self.compile(c) for c in condition.children]
        return All(children) if condition.all else Any_(children)

    def _leaf(self, leaf: Condition) -> Leaf:
        key, spec = measure_key(leaf), getattr(leaf, leaf.measure)
        if key not in self.measures:
            self.measures[key] = build_measure(leaf.measure, spec, self.interval)
        bounds = leaf.bounds
        if leaf.measure == "missing":
            bounds = {"at_least": parse_duration(spec.after)}
        elif leaf.measure == "adaptive" and not bounds:
            bounds = {"at_least": adaptive_threshold()}
        checks = [Check(kind, bound) for kind, bound in bounds.items()]
        self.checks += checks
        kind = PredictLeaf if leaf.measure == "predict" else Leaf
        return kind(key, self.measures[key], checks)
