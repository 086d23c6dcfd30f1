"""The detector's clock: missing-data conditions, and samples past their retention."""
from __future__ import annotations

import asyncio
import logging

from shared.service import ServiceRuntime

from services.detector.evaluator import Evaluator
from services.detector.rules import parse_duration
from services.detector.samples import SampleStore

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0
DEFAULT_RETENTION = 35 * 86400.0


def evaluator_of(runtime: ServiceRuntime) -> Evaluator:
    """The one evaluator of this process, made on first use."""
    if "evaluator" not in runtime.components:
        runtime.components["evaluator"] = Evaluator(runtime.application, SampleStore(runtime.pool))
    return runtime.components["evaluator"]


async def keep_time(runtime: ServiceRuntime) -> None:
    """Tick the evaluator so silent series are noticed, and prune old samples now and then.
    The first tick also rebuilds the evaluator, so a restarted detector is ready at once."""
    evaluator, pruned_at = evaluator_of(runtime), 0.0
    while True:
        now = runtime.clock.now().timestamp()
        await evaluator.tick(now)
        if now - pruned_at >= PRUNE_EVERY_SECONDS:
            pruned_at = now
            retention = {m.name: parse_duration(m.retention) for m in
                         (await asyncio.to_thread(runtime.application.catalogue)).values()}
            pruned = await evaluator.store.prune(retention, DEFAULT_RETENTION, now)
            if pruned:
                log.info("detector: pruned %d samples past their retention", pruned)
        await asyncio.sleep(runtime.settings.tick_seconds)
