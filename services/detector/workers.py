"""The detector's clock: one replica evaluates (it holds the evaluator's lease), ticks the
rules so silent series are noticed, prunes samples past their retention and rebuilds when any
replica changes a rule. The others stand by and take over when the holder goes."""
from __future__ import annotations

import asyncio
import logging
import uuid

from shared.service import ServiceRuntime

from services.detector.counting import rollovers
from services.detector.evaluator import Evaluator
from services.detector.rules import parse_duration
from services.detector.samples import SampleStore
from services.detector.silence_watch import SilenceWatch

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0
DEFAULT_RETENTION = 35 * 86400.0


def evaluator_of(runtime: ServiceRuntime) -> Evaluator:
    """The one evaluator of this process, made on first use."""
    if "evaluator" not in runtime.components:
        runtime.components["evaluator"] = Evaluator(
            runtime.application, SampleStore(runtime.pool, runtime.settings.schema_name))
    return runtime.components["evaluator"]


def rules_channel(runtime: ServiceRuntime) -> str:
    return f"{runtime.settings.schema_name}_rules_changed"


async def announce_rule_change(runtime: ServiceRuntime) -> None:
    """Rebuild here if this replica evaluates, and tell the evaluating replica otherwise."""
    evaluator = evaluator_of(runtime)
    await evaluator.rules_changed()
    async with runtime.pool.acquire() as conn:
        await conn.execute("SELECT pg_notify($1, $2)", rules_channel(runtime), _replica_id(runtime))


def _replica_id(runtime: ServiceRuntime) -> str:
    return runtime.components.setdefault("replica_id", uuid.uuid4().hex)


async def keep_time(runtime: ServiceRuntime) -> None:
    """Evaluate while this replica holds the lease; wait for it otherwise."""
    await runtime.leases.run(f"{runtime.settings.schema_name}:evaluator",
                             lambda: _evaluate(runtime))


async def _close_windows(runtime: ServiceRuntime, evaluator: Evaluator, now: float) -> None:
    """Counted metrics: a window that ended with a count gets a count of 0 (counting.py)."""
    counted = {name: m for name, m in
               (await asyncio.to_thread(runtime.application.catalogue)).items() if m.count}
    if counted:
        await evaluator.ingest_counted(lambda latest: rollovers(counted, latest, now),
                                       metrics=sorted(counted), actor="detector:clock", cause={})


async def _evaluate(runtime: ServiceRuntime) -> None:
    """The first tick rebuilds the evaluator from the stored samples, so a replica that takes
    over is ready at once. A rule stored by another replica arrives as a NOTIFY."""
    evaluator, pruned_at = evaluator_of(runtime), 0.0
    settings = runtime.settings
    silences = SilenceWatch(evaluator, horizon_seconds=settings.silence_watch_days * 86400,
                            default_after=settings.silence_after_seconds)
    changed = asyncio.Event()
    me = _replica_id(runtime)
    listener = asyncio.create_task(runtime.leases.listen(
        rules_channel(runtime), lambda *args: args[3] != me and changed.set()))
    try:
        evaluator.evaluating = True
        while True:
            if changed.is_set():
                changed.clear()
                await evaluator.rules_changed()
            now = runtime.clock.now().timestamp()
            await evaluator.tick(now)
            await _close_windows(runtime, evaluator, now)
            await silences.tick(now)
            if now - pruned_at >= PRUNE_EVERY_SECONDS:
                pruned_at = now
                retention = {m.name: parse_duration(m.retention) for m in
                             (await asyncio.to_thread(runtime.application.catalogue)).values()}
                pruned = await evaluator.store.prune(retention, DEFAULT_RETENTION, now)
                if pruned:
                    log.info("detector: pruned %d samples past their retention", pruned)
            try:
                await asyncio.wait_for(changed.wait(), runtime.settings.tick_seconds)
            except TimeoutError:
                if listener.done():  # a dead listener would miss rule changes: start over
                    listener.result()
    finally:
        await evaluator.stand_by()
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
