"""The evaluator: the rule engine's in-memory state, fed by ingest and the clock. Its state
is a function of the stored samples, so it is rebuilt from the sample store when it takes over
and when a rule changes, and then reconciled with the alerts on record. One replica evaluates
(the holder of the evaluator's lease, see workers.py); the others stand by and serve reads.
The engine's CPU work runs in a worker thread, one batch at a time, so the event loop stays
free for other requests."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from services.detector.app import DetectorApplication
from services.detector.ingest import Batch
from services.detector.rules import Engine, Transition
from services.detector.samples import SampleStore

log = logging.getLogger(__name__)
STANDBY_RETRY_SECONDS = 2


class StandingBy(RuntimeError):
    """This replica does not hold the evaluator's lease: samples go to the one that does."""

    def __init__(self) -> None:
        super().__init__("this detector replica is standing by; the evaluating replica takes "
                         f"samples. Retry in {STANDBY_RETRY_SECONDS}s (nothing was stored)")


class Evaluator:
    def __init__(self, app: DetectorApplication, store: SampleStore) -> None:
        self.app, self.store = app, store
        self.lock = asyncio.Lock()  # one batch at a time: series move forward in order
        self.evaluating = False  # set while this replica holds the evaluator's lease
        self.engine: Engine | None = None
        self.known: dict[tuple[str, str], tuple[int, int, dict]] = {}  # → (stored id, engine id, labels)
        self.by_stored_id: dict[int, int] = {}
        self.metrics_seen: set[str] = set()

    # -- ingest ---------------------------------------------------------------------------
    def check_evaluating(self) -> None:
        if not self.evaluating:
            raise StandingBy()

    async def ingest(self, batch: Batch, *, actor: str, cause: dict[str, Any]) -> dict[str, Any]:
        async with self.lock:
            return await self._ingest(batch, actor=actor, cause=cause)

    async def ingest_counted(self, make: Callable[[dict[tuple[str, str], tuple[float, float]]], Batch],
                             *, keys: list[tuple[str, str]] | None = None,
                             metrics: list[str] | None = None, actor: str,
                             cause: dict[str, Any]) -> dict[str, Any]:
        """Samples made from the latest stored sample of each series named by `keys`, or of
        every series of `metrics` (counted events, counting.py): read and evaluated under the
        one lock, so two requests never count from the same latest sample."""
        async with self.lock:
            self.check_evaluating()
            await self._ready()
            latest = await self.store.latest(keys=keys, metrics=metrics)
            return await self._ingest(make(latest), actor=actor, cause=cause)

    async def _ingest(self, batch: Batch, *, actor: str, cause: dict[str, Any]) -> dict[str, Any]:
        self.check_evaluating()
        if len(batch) == 0:  # every counted event refused
            return {"accepted": 0, "raised": 0, "resolved": 0, "suppressed": 0, "rejected": []}
        engine = await self._ready()
        stored, engine_ids = await self._series(engine, batch.keys)
        try:
            key_of, ts, values, evaluation = await asyncio.to_thread(
                _evaluate, engine, engine_ids, batch)
            accepted = np.ones(len(key_of), dtype=bool)
            for index, _ in evaluation.rejected:
                accepted[index] = False
            await self.store.append(stored[key_of][accepted], ts[accepted], values[accepted])
            counts = await asyncio.to_thread(self.app.apply_transitions,
                                             evaluation.transitions, actor=actor, cause=cause)
        except BaseException:
            # The state ran ahead of the store (or a cancelled request left the thread
            # still evaluating): drop it, the next use rebuilds a fresh engine.
            self.engine = None
            raise
        return {"accepted": int(accepted.sum()), **counts,
                "rejected": [{"index": i, "reason": r} for i, r in evaluation.rejected]}

    async def _series(self, engine: Engine, keys: list[tuple[str, str, dict]]) -> tuple[np.ndarray, np.ndarray]:
        fresh = [k for k in keys if (known := self.known.get(k[:2])) is None
                 or (k[2] and k[2] != known[2])]
        if fresh:
            for key, stored_id in zip(fresh, await self.store.register(fresh)):
                self._remember(engine, stored_id, *key)
        pairs = [self.known[k[:2]] for k in keys]
        return (np.fromiter((p[0] for p in pairs), np.int64, len(pairs)),
                np.fromiter((p[1] for p in pairs), np.int64, len(pairs)))

    def _remember(self, engine: Engine, stored_id: int, metric: str, entity: str, labels: dict) -> None:
        engine_id = engine.series(metric, entity, labels)
        self.known[(metric, entity)] = (stored_id, engine_id, labels)
        self.by_stored_id[stored_id] = engine_id
        self.metrics_seen.add(metric)

    # -- the clock ------------------------------------------------------------------------
    async def tick(self, now: float) -> dict[str, int]:
        async with self.lock:
            self.check_evaluating()
            engine = await self._ready()
            transitions = await asyncio.to_thread(engine.tick, now)
            if not transitions:
                return {}
            return await asyncio.to_thread(self.app.apply_transitions, transitions,
                                           actor="detector:clock", cause={})

    # -- rebuilding -----------------------------------------------------------------------
    async def rules_changed(self) -> None:
        """Rebuild from the current rules, if this replica evaluates (workers.py tells the
        evaluating replica when a standby stored the change)."""
        async with self.lock:
            self.engine = None
            if self.evaluating:
                await self._ready()

    async def stand_by(self) -> None:
        """The lease is gone: forget the state; the next holder rebuilds its own."""
        async with self.lock:
            self.evaluating, self.engine = False, None

    async def _ready(self) -> Engine:
        if self.engine is None:
            await self.store.create()
            self.engine = await self._rebuild()
            await self._reconcile(self.engine)
        return self.engine

    async def _rebuild(self) -> Engine:
        started = time.monotonic()
        engine, watched = Engine(), set()
        for key, spec, metric in await asyncio.to_thread(self.app.active_rules):
            engine.set_rule(key, spec, metric)
            watched.add(spec.metric)
        self.known.clear(), self.by_stored_id.clear()
        for row in await self.store.series():
            self._remember(engine, row["id"], row["metric"], row["entity"], row["labels"])
        replayed = 0
        if watched and self.by_stored_id:
            lookup = np.zeros(max(self.by_stored_id) + 1, dtype=np.int64)
            for stored_id, engine_id in self.by_stored_id.items():
                lookup[stored_id] = engine_id
            # Everything kept for the watched metrics: streaks, averages and hysteresis
            # counters reach back further than a rule's minimal horizon.
            async for stored_ids, ts, values in self.store.history(0.0, None, sorted(watched)):
                # State only: the alerts are on record.
                await asyncio.to_thread(engine.evaluate, lookup[stored_ids], ts, values)
                replayed += len(ts)
        log.info("detector: evaluator rebuilt from %d samples in %.2fs", replayed,
                 time.monotonic() - started)
        return engine

    async def _reconcile(self, engine: Engine) -> None:
        """Make the alerts on record agree with the rebuilt state: raise what fires and is
        not on record, resolve what is on record and no longer fires, record near misses."""
        firing = {(rule, entity): (severity, since) for rule, entity, severity, since in engine.firing()}
        async with self.store.pool.acquire() as conn:
            rows = await conn.fetch("SELECT rule_id, entity FROM alerts "
                                    "WHERE status = 'firing' AND source = 'rule'")
        recorded = {(r["rule_id"], r["entity"]) for r in rows}
        transitions = [_transition("raise", rule, entity, severity, since)
                       for (rule, entity), (severity, since) in firing.items()
                       if (rule, entity) not in recorded]
        now = self.app.clock.now().timestamp()
        transitions += [_transition("resolve", rule, entity, None, now)
                        for rule, entity in recorded - firing.keys()]
        # Series inside a near-miss band: an entry not on record (its samples were stored but
        # the detector stopped before recording it) is recorded now; one on record is kept.
        transitions += engine.near()
        if transitions:
            await asyncio.to_thread(self.app.apply_transitions, transitions,
                                    actor="detector:rebuild", cause={})


def _evaluate(engine: Engine, engine_ids: np.ndarray, batch: Batch) -> tuple[Any, ...]:
    key_of, ts, values = batch.arrays()
    return key_of, ts, values, engine.evaluate(engine_ids[key_of], ts, values)


def _transition(kind: str, rule: str, entity: str, severity: str | None, ts: float) -> Any:
    summary = ("still firing after the rules were reloaded" if kind == "raise"
               else "no longer fires under the current rules")
    return Transition(rule=rule, entity=entity, metric="", labels={}, kind=kind,
                      severity=severity, ts=ts, value=None, summary=summary)

