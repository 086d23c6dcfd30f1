"""One rule ready to run: its compiled conditions, measure state per slot, life cycle and
budget. A slot is the rule-local index of a series it watches, created on first sample."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .catalogue import fmt_duration, interval_of
from .conditions import Compiler
from .lifecycle import FIRING, IDLE, PENDING, SUPPRESSED, DailyBudget, Lifecycle
from .measures import Round
from .series import SeriesRegistry
from .spec import MetricSpec, RuleSpec
from .transitions import Transition

UNWATCHED, NO_SLOT = -2, -1


@dataclass(slots=True)
class Batch:
    """The rule's accepted samples of one evaluate call, in round-major order."""
    series: np.ndarray
    slots: np.ndarray
    ts: np.ndarray
    values: np.ndarray
    bucket: np.ndarray | None
    rounds: list[slice]   # round r: each series' r-th sample of the batch
    n_slots: int
    slot_series: np.ndarray


class Event(NamedTuple):
    """A raise, worse band or clear found during a batch, settled against the budget at its
    end."""
    ts: float
    entity: str
    kind: str           # "raise" | "worsen" | "resolve"
    slot: int
    sid: int
    level: int          # band index
    value: float | None
    summary: str
    was: int            # the slot's status before a clear or a worse band
    prediction: tuple[float, float] | None = None  # (crossing time, confidence): predict


class CompiledRule:
    def __init__(self, key: str, spec: RuleSpec, metric: MetricSpec | None) -> None:
        self.key, self.spec = key, spec
        self.interval = interval_of(spec, metric)
        compiler = Compiler(spec.conditions, self.interval)
        triggers = ([(b.level, b.when) for b in spec.bands] if spec.bands is not None
                    else [(spec.severity, spec.when)])
        self.levels = [level for level, _ in triggers]
        self.nodes = [compiler.compile(when) for _, when in triggers]
        self.measures, self.checks = compiler.measures, compiler.checks
        self.uses_clock = any(m.kind == "missing" for m in self.measures.values())
        self.lifecycle = Lifecycle(spec.for_, spec.clear_after, clocked=self.uses_clock)
        self.budget = DailyBudget(spec.budget)
        self.series_slot = np.full(0, UNWATCHED, dtype=np.int64)
        self.slot_series = np.empty(0, dtype=np.int64)
        self.n_slots = 0

    # -- series ---------------------------------------------------------------------------
    def watches(self, metric: str, labels: Mapping[str, str]) -> bool:
        return metric == self.spec.metric and all(
            labels.get(k) == v for k, v in self.spec.match.items())

    def observe(self, sid: int, metric: str, labels: Mapping[str, str]) -> None:
        """A series appeared or its labels changed (latest labels win)."""
        self._cover(sid + 1)
        for check in self.checks:
            check.grow(len(self.series_slot))
            check.observe(sid, labels)
        for measure in self.measures.values():
            measure.grow(self.n_slots, len(self.series_slot))
            measure.observe(sid, labels)
        watched = self.watches(metric, labels)
        if not watched:
            self.series_slot[sid] = UNWATCHED
        elif self.series_slot[sid] == UNWATCHED:
            self.series_slot[sid] = NO_SLOT

    def _cover(self, n: int) -> None:
        if n > len(self.series_slot):
            grown = np.full(max(n, 2 * len(self.series_slot), 64), UNWATCHED, np.int64)
            grown[:len(self.series_slot)] = self.series_slot
            self.series_slot = grown

    def _allocate(self, series: np.ndarray) -> None:
        start, self.n_slots = self.n_slots, self.n_slots + len(series)
        if self.n_slots > len(self.slot_series):
            grown = np.empty(max(self.n_slots, 2 * len(self.slot_series), 64), np.int64)
            grown[:start] = self.slot_series[:start]
            self.slot_series = grown
        self.slot_series[start:self.n_slots] = series
        self.series_slot[series] = np.arange(start, self.n_slots)
        self.lifecycle.state.ensure(self.n_slots)
        for measure in self.measures.values():
            measure.grow(self.n_slots, len(self.series_slot))

    # -- evaluation -----------------------------------------------------------------------
    def process(self, registry: SeriesRegistry, series: np.ndarray, ts: np.ndarray,
                values: np.ndarray, rounds: list[slice]) -> list[Transition]:
        """Evaluate the batch's samples of watched series, round by round."""
        self._cover(len(registry))
        slot = self.series_slot[series]
        watched = slot != UNWATCHED
        if not watched.all():
            if not watched.any():
                return []
            ends = np.cumsum(watched)[[r.stop - 1 for r in rounds]] if len(rounds) > 1 else None
            series, ts, values, slot = (a[watched] for a in (series, ts, values, slot))
            rounds = ([slice(0, len(series))] if ends is None else
                      [slice(int(lo), int(hi)) for lo, hi in zip(np.r_[0, ends[:-1]], ends)])
        if (slot == NO_SLOT).any():
            self._allocate(np.unique(series[slot == NO_SLOT]))
            slot = self.series_slot[series]
        bucket = np.floor(ts / self.interval).astype(np.int64) if self.interval else None
        batch = Batch(series, slot, ts, values, bucket, rounds, self.n_slots, self.slot_series)
        for measure in self.measures.values():
            measure.prepare(batch)
        events: list[Event] = []
        for pos in rounds:
            if pos.stop > pos.start:
                rnd = Round(pos, slot[pos], series[pos], ts[pos], values[pos],
                            None if bucket is None else bucket[pos])
                events += self._evaluate(rnd, registry)
        return self._settle(registry, events)

    def tick(self, registry: SeriesRegistry, now: float) -> list[Transition]:
        events: list[Event] = []
        n = self.n_slots
        if self.uses_clock and n:
            slots = np.flatnonzero(self.lifecycle.state["evaluated"][:n] < now)
            k = len(slots)
            if k:
                events += self._evaluate(Round(np.arange(k), slots, self.slot_series[slots],
                                               np.full(k, now), np.full(k, np.nan), None, now),
                                         registry)
        for slot in self.lifecycle.clock(n, now).tolist():
            events.append(self._clear(registry, slot, int(self.slot_series[slot]), now, None))
        return self._settle(registry, events)

    def _evaluate(self, rnd: Round, registry: SeriesRegistry) -> list[Event]:
        measured = {key: m.compute(rnd) for key, m in self.measures.items()}
        if len(self.nodes) == 1:
            level = np.where(self.nodes[0].evaluate(measured, rnd), 0, -1)
        else:
            level = np.full(len(rnd.slots), -1)
            for i in range(len(self.nodes) - 1, -1, -1):  # the first band that holds wins
                level[self.nodes[i].evaluate(measured, rnd)] = i
        raised, calm = self.lifecycle.step(rnd.slots, level >= 0, rnd.ts)
        events = [self._raise(registry, rnd, i, int(level[i])) for i in raised.tolist()]
        for i in calm.tolist():
            events.append(self._clear(registry, int(rnd.slots[i]), int(rnd.series[i]),
                                      float(rnd.ts[i]), None if rnd.clock else float(rnd.values[i])))
        if len(self.nodes) > 1:
            events += self._worsen(registry, rnd, level)
        return events

    # -- transitions (rare: plain Python) ---------------------------------------------------
    def _raise(self, registry: SeriesRegistry, rnd: Round, i: int, index: int) -> Event:
        slot, sid, ts = int(rnd.slots[i]), int(rnd.series[i]), float(rnd.ts[i])
        value = None if rnd.clock else float(rnd.values[i])
        summary = f"{_head(registry, sid, value)}: {self.nodes[index].explain(i, sid)}"
        if self.spec.bands is not None:
            summary += f" (band {self.levels[index]})"
        self.lifecycle.set(slot, PENDING, index, ts)
        return Event(ts, registry.entity[sid], "raise", slot, sid, index, value, summary, PENDING,
                     self.nodes[index].prediction(i))

    def _worsen(self, registry: SeriesRegistry, rnd: Round, level: np.ndarray) -> list[Event]:
        """A firing alert whose worse band now holds goes up to it (bands are most severe
        first, so a lower index is worse); a better band never lowers it."""
        st = self.lifecycle.state
        status, held = st["status"][rnd.slots], st["level"][rnd.slots]
        worse = ((status == FIRING) | (status == PENDING)) & (level >= 0) & (level < held)
        events = []
        for i in np.flatnonzero(worse).tolist():
            slot, sid, index = int(rnd.slots[i]), int(rnd.series[i]), int(level[i])
            value = None if rnd.clock else float(rnd.values[i])
            summary = (f"{_head(registry, sid, value)}: {self.nodes[index].explain(i, sid)} "
                       f"(band {self.levels[index]}, worse than {self.levels[int(held[i])]})")
            st["level"][slot] = index
            events.append(Event(float(rnd.ts[i]), registry.entity[sid], "worsen", slot, sid,
                                index, value, summary, int(status[i])))
        return events

    def _clear(self, registry: SeriesRegistry, slot: int, sid: int, ts: float,
               value: float | None) -> Event:
        st = self.lifecycle.state
        was, index = int(st["status"][slot]), int(st["level"][slot])
        quiets, quiet_since = self.lifecycle.quiet_for(slot)
        quiet = (f"{quiets} quiet evaluations in a row" if self.lifecycle.clear_after.count
                 else f"quiet for {fmt_duration(round(ts - quiet_since))}")
        self.lifecycle.set(slot, IDLE)
        summary = f"{_head(registry, sid, value)}: no longer breaching ({quiet})"
        return Event(ts, registry.entity[sid], "resolve", slot, sid, index, value, summary, was)

    def _settle(self, registry: SeriesRegistry, events: list[Event]) -> list[Transition]:
        """Charge raises to the budget in time order (not evaluation order, so batching does
        not change who is suppressed); a suppressed alert ends without a resolve."""
        decided: dict[int, int] = {}
        out = []
        for e in sorted(events, key=lambda e: (e.ts, e.entity)):
            level = self.levels[e.level]
            if e.kind == "raise":
                admitted = self.budget.admit(level, e.ts)
                decided[e.slot] = FIRING if admitted else SUPPRESSED
                kind = "raise" if admitted else "suppress"
                summary = e.summary if admitted else \
                    f"{e.summary}; suppressed: {self.budget.limit_text(level)} spent"
                out.append(self._transition(registry, e.sid, kind, level, e.ts, e.value, summary,
                                            e.prediction))
            elif (decided.get(e.slot) if e.was == PENDING else e.was) == FIRING:
                # A worse band of a firing alert, or its clearing (of a suppressed one: none).
                kind = "worsen" if e.kind == "worsen" else "resolve"
                out.append(self._transition(registry, e.sid, kind, level, e.ts, e.value,
                                            e.summary))
        status = self.lifecycle.state["status"]
        for slot, final in decided.items():
            if status[slot] == PENDING:
                status[slot] = final
        return out

    def _transition(self, registry, sid, kind, level, ts, value, summary,
                    prediction=None) -> Transition:
        at, confidence = prediction if prediction is not None else (None, None)
        return Transition(rule=self.key, entity=registry.entity[sid], metric=registry.metric[sid],
                          labels=registry.labels[sid], kind=kind, severity=level, ts=ts,
                          value=value, summary=summary, predicted_crossing_at=at,
                          confidence=confidence)

    # -- read side ------------------------------------------------------------------------
    def firing(self) -> Iterator[tuple[int, str, float]]:
        st = self.lifecycle.state
        for slot in np.flatnonzero(st["status"][:self.n_slots] == FIRING).tolist():
            yield int(self.slot_series[slot]), self.levels[int(st["level"][slot])], float(st["since"][slot])

    @property
    def bytes_per_slot(self) -> int:
        return (self.lifecycle.state.bytes_per_slot + self.slot_series.itemsize
                + sum(m.bytes_per_slot for m in self.measures.values()))

    def state_bytes(self) -> int:
        per_series = (self.series_slot.nbytes + sum(c.per_series.nbytes for c in self.checks)
                      + sum(m.series_bytes for m in self.measures.values()))
        return self.n_slots * self.bytes_per_slot + per_series


def _head(registry: SeriesRegistry, sid: int, value: float | None) -> str:
    said = f"{registry.metric[sid]} for {registry.entity[sid]}"
    return said if value is None else f"{said} is {value:g}"
