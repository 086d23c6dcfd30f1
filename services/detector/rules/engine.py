"""The rule engine: evaluates batches of samples against every rule with array operations,
one round per occurrence rank so each round holds at most one sample per series."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .catalogue import check_context
from .compiled import CompiledRule
from .series import SeriesRegistry
from .spec import MetricSpec, RuleSpec
from .transitions import Evaluation, Transition

__all__ = ["Engine", "Evaluation", "Transition"]


class Engine:
    def __init__(self) -> None:
        self.registry = SeriesRegistry()
        self.rules: dict[str, CompiledRule] = {}
        self._order: dict[str, int] = {}

    # -- rules and series -------------------------------------------------------------------
    def set_rule(self, key: str, rule: RuleSpec, metric: MetricSpec | None = None) -> None:
        """Add or replace a rule; replacing starts its state afresh and keeps the others'."""
        check_context(rule, metric)
        if not rule.enabled:
            self.remove_rule(key)
            return
        compiled = CompiledRule(key, rule, metric)
        for sid in self.registry.by_metric.get(rule.metric, []):
            compiled.observe(sid, rule.metric, self.registry.labels[sid])
        self.rules[key] = compiled
        self._order.setdefault(key, len(self._order))

    def remove_rule(self, key: str) -> None:
        self.rules.pop(key, None)

    def series(self, metric: str, entity: str, labels: Mapping[str, str] | None = None) -> int:
        sid, changed = self.registry.upsert(metric, entity, labels)
        if changed:
            for rule in self.rules.values():
                if rule.spec.metric == metric:
                    rule.observe(sid, metric, self.registry.labels[sid])
        return sid

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, series: np.ndarray, ts: np.ndarray, values: np.ndarray) -> Evaluation:
        series = np.asarray(series, dtype=np.int64)
        ts, values = np.asarray(ts, dtype=np.float64), np.asarray(values, dtype=np.float64)
        evaluation = Evaluation()
        unknown = (series < 0) | (series >= len(self.registry))
        not_finite = ~unknown & ~(np.isfinite(values) & np.isfinite(ts))
        for reason, mask in (("unknown_series", unknown), ("not_finite", not_finite)):
            evaluation.rejected += [(i, reason) for i in np.flatnonzero(mask).tolist()]
        index = np.flatnonzero(~(unknown | not_finite))
        order, rounds, late = _arrange(index, series, ts, self.registry.last_ts)
        evaluation.rejected += [(i, "out_of_order") for i in late.tolist()]
        evaluation.rejected.sort()
        if len(order) == 0:
            return evaluation
        s, t, v = series[order], ts[order], values[order]
        for r in rounds:  # in round order, so each series ends at its latest time
            self.registry.last_ts[s[r]] = t[r]
        for rule in self.rules.values():
            evaluation.transitions += rule.process(self.registry, s, t, v, rounds)
        evaluation.transitions.sort(key=self._sort_key)
        return evaluation

    def evaluate_samples(self, samples: Iterable[tuple[str, str, Mapping[str, str], float, float]]) -> Evaluation:
        ids, ts, values = [], [], []
        for metric, entity, labels, at, value in samples:
            ids.append(self.series(metric, entity, labels))
            ts.append(at)
            values.append(_number(value))
        return self.evaluate(np.array(ids, dtype=np.int64), np.array(ts, dtype=np.float64),
                             np.array(values, dtype=np.float64))

    def tick(self, now: float) -> list[Transition]:
        """The clock: `missing` conditions and `clear_after` durations."""
        out: list[Transition] = []
        for rule in self.rules.values():
            out += rule.tick(self.registry, float(now))
        return sorted(out, key=self._sort_key)

    def _sort_key(self, t: Transition) -> tuple:
        return t.ts, self._order.get(t.rule, 0), t.entity

    # -- read side --------------------------------------------------------------------------
    def firing(self) -> list[tuple[str, str, str, float]]:
        return [(key, self.registry.entity[sid], level, since)
                for key, rule in self.rules.items() for sid, level, since in rule.firing()]

    def near(self) -> list[Transition]:
        """Every series inside its rule's near-miss band now (the evaluator's reconcile)."""
        return [t for rule in self.rules.values() for t in rule.near_now(self.registry)]

    def state_bytes(self) -> dict[str, int]:
        return {key: rule.state_bytes() for key, rule in self.rules.items()}

    def budget_report(self) -> dict[str, dict[str, dict[str, dict[str, int]]]]:
        return {key: rule.budget.report() for key, rule in self.rules.items()}


def _arrange(index: np.ndarray, series: np.ndarray, ts: np.ndarray,
             last_ts: np.ndarray) -> tuple[np.ndarray, list[slice], np.ndarray]:
    """Accepted batch indices in round-major order, the rounds as slices (round r holds
    each series' r-th accepted sample), and the indices refused as out of order."""
    s = series[index]
    if len(s) == 0 or np.bincount(s).max() <= 1:  # the usual batch: one sample per series
        fresh = ts[index] > last_ts[s]
        return index[fresh], [slice(0, int(fresh.sum()))], index[~fresh]
    order = index[_radix_order(series[index])]
    s, t = series[order], ts[order]
    if np.any((s[1:] == s[:-1]) & (t[1:] < t[:-1])):  # a series out of time order in the batch
        by_time = index[np.argsort(ts[index], kind="stable")]
        order = by_time[_radix_order(series[by_time])]
        s, t = series[order], ts[order]
    start = np.r_[True, s[1:] != s[:-1]]
    later = np.r_[True, t[1:] > t[:-1]]  # equal times within a series: the first wins
    accepted = (t > last_ts[s]) & (start | later)
    late = order[~accepted]
    order = order[accepted]
    start = np.r_[True, series[order][1:] != series[order][:-1]]
    rank = _rank(start)
    order = order[np.argsort(rank.astype(np.int16 if rank.max() < 2**15 else np.int32), kind="stable")]
    ends = np.cumsum(np.bincount(rank))
    return order, [slice(int(lo), int(hi)) for lo, hi in zip(np.r_[0, ends[:-1]], ends)], late


def _radix_order(keys: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative int64 keys, 16 bits at a time (numpy radix-sorts
    16-bit integers, several times faster than a stable sort of int64)."""
    order = np.arange(len(keys))
    top = int(keys.max()) if len(keys) else 0
    shift = 0
    while True:
        digit = ((keys[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
        if top >> shift == 0:
            return order


def _rank(start: np.ndarray) -> np.ndarray:
    """Occurrence rank of each sample within its series (0 for the first)."""
    firsts = np.flatnonzero(start)
    return np.arange(len(start)) - np.repeat(firsts, np.diff(np.r_[firsts, len(start)]))


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")  # refused as not_finite
