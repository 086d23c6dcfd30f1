"""Replays one rule over history, along time (vectorised.py) or with a fresh Engine, and
turns its transitions into alert spans. The only part of the backtest that runs rules."""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from statistics import median
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import history_notes
from .columns import columns
from .model import AlertSpan, Replay
from .progress import Progress

if TYPE_CHECKING:
    from ..engine import Engine
    from ..spec import MetricSpec, RuleSpec

Sample = tuple[str, str, Mapping[str, str], float, float]
CHUNK = 50_000        # samples per evaluate call: large enough to amortise, small for memory
MAX_TICKS = 200_000   # clock ticks for `missing` rules over the whole replay


class Prepared:
    """The samples a rule watches, filtered and time-sorted once, so a sweep's replays (same
    metric and match, other bounds) share the work; arrays and notes are cached per interval."""

    def __init__(self, rule: RuleSpec, samples: Iterable[Sample]) -> None:
        metric = rule.metric
        self.given = ([s for s in samples if s[0] == metric] if not rule.match
                      else [s for s in samples if watches(rule, s)])
        self.columns = columns(self.given)
        order = self.columns.order
        self.rows = (list(self.given) if np.array_equal(order, np.arange(len(order)))
                     else [self.given[i] for i in order.tolist()])
        self._history: dict[Any, Any] = {}
        self._notes: dict[Any, list[str]] = {}

    def history(self, interval: float | None):
        """The rows as arrays for the along-time replay (None: labels change on the way)."""
        if interval not in self._history:
            from .vectorised import prepare
            starts = [lo for lo, _, _ in _chunks(self.rows, interval, False)]
            self._history[interval] = prepare(self.given, self.columns, starts)
        return self._history[interval]

    def notes(self, interval: float | None, warmup: int | None) -> list[str]:
        if (interval, warmup) not in self._notes:
            self._notes[interval, warmup] = history_notes(self.columns, interval, warmup)
        return list(self._notes[interval, warmup])


def replay(rule: RuleSpec, samples: Iterable[Sample] | Prepared,
           metric: MetricSpec | None = None, *, along_time: bool = True,
           progress: Progress | None = None) -> Replay:
    """Runs this one rule over the samples it watches, in time order: along time (whole
    series at once) when every measure allows it, else through a fresh Engine.
    `along_time=False` forces the engine (the reference the fast path is tested against)."""
    prepared = samples if isinstance(samples, Prepared) else Prepared(rule, samples)
    watched = prepared.rows
    if not watched:
        return Replay([], 0, 0, 0, 0.0, 0.0, rule_interval(rule, metric),
                      [f"no sample of {rule.metric} matches the rule: nothing was replayed"])
    interval = rule_interval(rule, metric) or _median_gap(watched)
    advance = progress.advance if progress is not None else _ignore
    history = None
    if along_time and not _uses(rule, "missing"):
        from . import vectorised
        if vectorised.vectorisable(rule, metric):
            history = prepared.history(interval)
    if history is not None:
        transitions, rejected = vectorised.run(rule, metric, history, watched[-1][3], advance)
    else:
        from ..engine import Engine   # imported here so the pure parts load without the engine
        engine = Engine()
        engine.set_rule(rule.name, rule, metric)
        transitions, rejected = _run(engine, watched, interval, _uses(rule, "missing"), advance)
    alerts, suppressed = spans_from_transitions(transitions)
    notes = prepared.notes(interval, _adaptive_warmup() if _uses(rule, "adaptive") else None)
    return Replay(alerts, suppressed, len(watched), rejected, watched[0][3], watched[-1][3],
                  interval, notes)


def _ignore(samples: int) -> None:
    pass


def spans_from_transitions(transitions: Iterable[Any]) -> tuple[list[AlertSpan], int]:
    """Raise opens a span for the entity, resolve closes it; suppressed raises are counted."""
    spans: list[AlertSpan] = []
    open_: dict[str, int] = {}
    suppressed = 0
    for t in sorted(transitions, key=lambda t: t.ts):
        if t.kind == "suppress":
            suppressed += 1
        elif t.kind == "raise":
            _close(spans, open_, t.entity, t.ts)
            open_[t.entity] = len(spans)
            spans.append(AlertSpan(t.entity, t.severity or "", t.ts, None, t.summary))
        elif t.kind == "resolve":
            _close(spans, open_, t.entity, t.ts)
    return sorted(spans, key=lambda a: (a.start, a.entity)), suppressed


def rule_interval(rule: RuleSpec, metric: MetricSpec | None) -> float | None:
    """The rule's interval, else its metric's, in seconds (None when neither says)."""
    for text in (rule.interval, metric.interval if metric is not None else None):
        if text is not None:
            return _seconds(text)
    return None


def _close(spans: list[AlertSpan], open_: dict[str, int], entity: str, ts: float) -> None:
    index = open_.pop(entity, None)
    if index is not None:
        s = spans[index]
        spans[index] = AlertSpan(s.entity, s.severity, s.start, ts, s.summary)


def _run(engine: Engine, rows: Sequence[Sample], interval: float | None, missing: bool,
         advance: Callable[[int], None]) -> tuple[list[Any], int]:
    transitions: list[Any] = []
    rejected = 0
    labels_of: dict[tuple[str, str], dict[str, str]] = {}
    ids: dict[tuple[str, str], int] = {}
    for lo, hi, now in _chunks(rows, interval, missing):
        if hi > lo:
            series = np.fromiter((_series_id(engine, ids, labels_of, s) for s in rows[lo:hi]),
                                 dtype=np.int64, count=hi - lo)
            ts = np.fromiter((s[3] for s in rows[lo:hi]), dtype=np.float64, count=hi - lo)
            values = np.fromiter((s[4] for s in rows[lo:hi]), dtype=np.float64, count=hi - lo)
            evaluation = engine.evaluate(series, ts, values)
            transitions.extend(evaluation.transitions)
            rejected += len(evaluation.rejected)
            advance(hi - lo)
        if now is not None:
            transitions.extend(engine.tick(now))
    return transitions, rejected


def _chunks(rows: Sequence[Sample], interval: float | None, missing: bool):
    """(lo, hi, tick_time or None) slices in time order. Cuts fall between buckets (or
    distinct times), so samples of one interval are evaluated together and peer groups see
    each other. The clock ticks once at the end (clear_after durations); a rule with
    `missing` is ticked on a grid of intervals, as the live detector's clock would."""
    if missing:
        yield from _clock_chunks(rows, interval)
        return
    lo = 0
    while lo < len(rows):
        hi = min(lo + CHUNK, len(rows))
        while hi < len(rows) and _bucket(rows[hi][3], interval) == _bucket(rows[hi - 1][3], interval):
            hi += 1
        yield lo, hi, rows[-1][3] if hi == len(rows) else None
        lo = hi


def _clock_chunks(rows: Sequence[Sample], interval: float | None):
    times = [s[3] for s in rows]
    step = max(interval or 0.0, (times[-1] - times[0]) / MAX_TICKS) or 1.0
    lo, now = 0, times[0]
    while lo < len(rows):
        hi = bisect_right(times, now, lo)
        while hi - lo > CHUNK:
            yield lo, lo + CHUNK, None
            lo += CHUNK
        yield lo, hi, now
        lo, now = hi, now + step


def _bucket(ts: float, interval: float | None) -> float:
    return ts // interval if interval else ts


def _series_id(engine: Engine, ids: dict, labels_of: dict, sample: Sample) -> int:
    metric, entity, labels = sample[0], sample[1], dict(sample[2])
    key = (metric, entity)
    if labels_of.get(key) != labels:   # latest labels win, as in the live detector
        labels_of[key] = labels
        ids[key] = engine.series(metric, entity, labels)
    return ids[key]


def watches(rule: RuleSpec, sample: Sample) -> bool:
    """The rule watches this sample: same metric, and every `match` label equal."""
    labels = sample[2]
    return sample[0] == rule.metric and all(labels.get(k) == v for k, v in rule.match.items())


def _uses(rule: RuleSpec, measure: str) -> bool:
    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return measure in node or any(walk(v) for v in node.values())
        return isinstance(node, list) and any(walk(v) for v in node)
    return walk(rule.model_dump(mode="json", by_alias=True))


def _adaptive_warmup() -> int:
    from services.detector.adaptive import DEFAULT
    return DEFAULT.warmup


def _median_gap(rows: Sequence[Sample]) -> float | None:
    last: dict[tuple[str, str], float] = {}
    gaps = []
    for metric, entity, _, ts, _ in rows:
        if (metric, entity) in last and ts > last[(metric, entity)]:
            gaps.append(ts - last[(metric, entity)])
        last[(metric, entity)] = ts
    return median(gaps) if gaps else None


def _seconds(duration: Any) -> float:
    if isinstance(duration, (int, float)):
        return float(duration)
    from ..durations import parse_duration
    return parse_duration(duration)
