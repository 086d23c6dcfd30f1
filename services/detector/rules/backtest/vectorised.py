"""A replay along time: every measure computed over each whole series at once
(along_time.py), the conditions evaluated on those arrays by the rule's own compiled nodes,
and the life cycle walked from one raise or clear to the next instead of sample by sample.
Gives the transitions the engine gives for rules whose measures are all along-time ones."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..catalogue import fmt_duration
from ..compiled import CompiledRule, _head
from ..measures import Round
from ..series import SeriesRegistry
from ..transitions import Transition
from . import along_time
from .columns import Columns, same_labels

if TYPE_CHECKING:
    from ..spec import MetricSpec, RuleSpec


class History(NamedTuple):
    """The watched samples as arrays, in time order (a stable sort), one id per series."""
    registry: SeriesRegistry
    series: np.ndarray
    ts: np.ndarray
    values: np.ndarray
    chunk_starts: np.ndarray   # where the engine's evaluate calls would start


class Event(NamedTuple):
    ts: float
    late: int          # 1 for the final clock tick: settled after the samples
    entity: str
    kind: str
    sid: int
    level: int
    value: float | None
    summary: str


def vectorisable(rule: RuleSpec, metric: MetricSpec | None) -> bool:
    compiled = CompiledRule(rule.name, rule, metric)
    return all(along_time.supported(m) for m in compiled.measures.values())


def run(rule: RuleSpec, metric: MetricSpec | None, history: History, end: float,
        advance: Callable[[int], None] = lambda n: None) -> tuple[list[Transition], int]:
    """(transitions, rejected samples), as the engine's replay; `end` is the final clock tick.
    `advance(n)` is told after each series (it may raise to cancel)."""
    compiled = CompiledRule(rule.name, rule, metric)
    registry = history.registry
    for sid in range(len(registry)):
        compiled.observe(sid, registry.metric[sid], registry.labels[sid])
    accepted = _accepted(history.series, history.ts, history.values)
    if len(registry) == 1:
        order = np.flatnonzero(accepted)
    else:
        order = np.argsort(history.series, kind="stable")   # per series, still in time order
        order = order[accepted[order]]
    bounds = np.flatnonzero(np.r_[True, np.diff(history.series[order]) != 0, True])
    firsts = order[bounds[:-1]] if len(order) else order
    slots = _slots(history.series[firsts], firsts, history.chunk_starts)
    events: list[Event] = []
    for lo, hi, slot in zip(bounds[:-1].tolist(), bounds[1:].tolist(), slots):
        index = order[lo:hi]
        events += _series_events(compiled, registry, int(history.series[index[0]]), slot,
                                 history.ts[index], history.values[index], end)
        advance(hi - lo)
    return _settle(compiled, registry, events), int(len(history.series) - accepted.sum())


def _accepted(series: np.ndarray, ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """As the engine: finite samples only, and of equal times within a series the first."""
    finite = np.isfinite(ts) & np.isfinite(values)
    index = np.flatnonzero(finite)
    one = len(series) == 0 or series.min() == series.max()
    order = index if one else index[np.argsort(series[index], kind="stable")]
    s, t = series[order], ts[order]
    later = np.ones(len(order), dtype=bool)
    later[1:] = (s[1:] != s[:-1]) | (t[1:] > t[:-1])
    keep = np.zeros(len(series), dtype=bool)
    keep[order[later]] = True
    return keep


def _slots(series: np.ndarray, first_rows: np.ndarray, chunk_starts: np.ndarray) -> list[int]:
    """The slot the engine allocates each series: by the evaluate call of its first accepted
    sample, then by series id within that call."""
    chunk = np.searchsorted(chunk_starts, first_rows, side="right")
    rank = np.lexsort((series, chunk))
    slots = np.empty(len(series), dtype=np.int64)
    slots[rank] = np.arange(len(series))
    return slots.tolist()


def _series_events(rule: CompiledRule, registry: SeriesRegistry, sid: int, slot: int,
                   ts: np.ndarray, values: np.ndarray, end: float) -> list[Event]:
    n = len(ts)
    bucket = np.floor(ts / rule.interval).astype(np.int64) if rule.interval else None
    measured = {key: along_time.compute(m, ts, values, bucket, slot)
                for key, m in rule.measures.items()}
    rnd = Round(np.arange(n), np.zeros(n, dtype=np.int64), np.full(n, sid, dtype=np.int64),
                ts, values, bucket)
    if len(rule.nodes) == 1:
        level = np.where(rule.nodes[0].evaluate(measured, rnd), 0, -1)
    else:
        level = np.full(n, -1)
        for i in range(len(rule.nodes) - 1, -1, -1):   # the first band that holds wins
            level[rule.nodes[i].evaluate(measured, rnd)] = i
    streak, since = _streaks(level >= 0, ts)
    life = rule.lifecycle
    raises = np.flatnonzero(life.raise_after.met(streak, since, ts))
    calms = np.flatnonzero(life.clear_after.met(-streak, since, ts))
    entity = registry.entity[sid]
    events: list[Event] = []
    at = -1
    while True:
        r = _next(raises, at)
        if r is None:
            return events
        index = int(level[r])
        summary = f"{_head(registry, sid, float(values[r]))}: {rule.nodes[index].explain(r, sid)}"
        if rule.spec.bands is not None:
            summary += f" (band {rule.levels[index]})"
        events.append(Event(float(ts[r]), 0, entity, "raise", sid, index, float(values[r]),
                            summary))
        c = _next(calms, r)
        if c is not None:
            events.append(_clear(rule, registry, sid, index, -int(streak[c]), float(since[c]),
                                 float(ts[c]), float(values[c]), 0))
            at = c
            continue
        quiet = -streak[-1:]   # the final clock tick may clear an alert quiet long enough
        if life.clear_after.seconds is not None and life.clear_after.met(
                quiet, since[-1:], end)[0]:
            events.append(_clear(rule, registry, sid, index, int(quiet[0]), float(since[-1]),
                                 end, None, 1))
        return events


def _streaks(breach: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed run lengths (+n breaching, −n quiet in a row) and when each run began."""
    n = len(breach)
    index = np.arange(n)
    start = np.r_[True, breach[1:] != breach[:-1]]
    began = np.maximum.accumulate(np.where(start, index, 0))
    length = index - began + 1
    return np.where(breach, length, -length).astype(np.int32), ts[began]


def _next(positions: np.ndarray, after: int) -> int | None:
    i = int(np.searchsorted(positions, after, side="right"))
    return int(positions[i]) if i < len(positions) else None


def _clear(rule: CompiledRule, registry: SeriesRegistry, sid: int, index: int, quiets: int,
           quiet_since: float, ts: float, value: float | None, late: int) -> Event:
    quiet = (f"{quiets} quiet evaluations in a row" if rule.lifecycle.clear_after.count
             else f"quiet for {fmt_duration(round(ts - quiet_since))}")
    summary = f"{_head(registry, sid, value)}: no longer breaching ({quiet})"
    return Event(ts, late, registry.entity[sid], "resolve", sid, index, value, summary)


def _settle(rule: CompiledRule, registry: SeriesRegistry,
            events: Sequence[Event]) -> list[Transition]:
    """The budget charged in time order, as the engine's settle; a suppressed alert ends
    without a resolve."""
    admitted: dict[int, bool] = {}
    out = []
    for e in sorted(events, key=lambda e: (e.late, e.ts, e.entity)):
        level = rule.levels[e.level]
        summary, kind = e.summary, e.kind
        if kind == "raise":
            admitted[e.sid] = rule.budget.admit(level, e.ts)
            if not admitted[e.sid]:
                kind = "suppress"
                summary = f"{summary}; suppressed: {rule.budget.limit_text(level)} spent"
        elif not admitted.get(e.sid):
            continue
        out.append(Transition(rule=rule.key, entity=e.entity, metric=registry.metric[e.sid],
                              labels=registry.labels[e.sid], kind=kind, severity=level,
                              ts=e.ts, value=e.value, summary=summary))
    return out


def prepare(given: Sequence[Any], columns: Columns,
            chunk_starts: Sequence[int]) -> History | None:
    """Arrays of the time-ordered watched rows; None when a series changes its labels on
    the way (the engine re-reads graded bounds then: replay that through the engine).
    Series ids follow first appearance in time order, as the engine's registry gives them."""
    if not same_labels(given, columns):
        return None
    registry = SeriesRegistry()
    for sid in np.argsort(columns.first_in_time).tolist():
        metric, entity = columns.keys[sid]
        registry.upsert(metric, entity, columns.labels[sid])
    order = columns.order
    return History(registry, columns.first_in_time[columns.series[order]], columns.ts[order],
                   columns.values[order], np.asarray(chunk_starts, dtype=np.int64))
