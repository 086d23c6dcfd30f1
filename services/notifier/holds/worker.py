"""The release worker: looks again at held incidents whose hold has ended (or whose holding
rule changed) on the service's clock. Replica-safe like the other workers: due rows are read
FOR UPDATE SKIP LOCKED, and the opening's guard refuses a look at a version other than the
one the row showed, so two passes never release (or re-hold) the same incident twice."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from opentelemetry import trace

from services.notifier.workers import REFUSED, _survive

log = logging.getLogger(__name__)
tracer = trace.get_tracer("closedloop.notifier")

DUE_HOLDS = """
    SELECT incident_id, version FROM openings
    WHERE status = 'held' AND recheck_at <= $1
    ORDER BY recheck_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def release_held(runtime: Any) -> None:
    """Wakes when the read models change (a silence expired early, an inhibiting incident
    resolved) and polls as the clock moves."""
    while True:
        seen = runtime.read_models.generation
        await _survive(recheck_due_holds(runtime), "release_held")
        await runtime.read_models.wait(seen, runtime.settings.worker_poll_seconds)


async def recheck_due_holds(runtime: Any) -> None:
    app, now = runtime.application, runtime.clock.now()
    async with runtime.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(DUE_HOLDS, now, runtime.settings.worker_batch)
        for row in rows:
            attributes = {"closedloop.incident_id": row["incident_id"]}
            with tracer.start_as_current_span("notifier.ReleaseHeld.recheck",
                                              attributes=attributes):
                try:
                    outcome = await asyncio.to_thread(app.release_held, row["incident_id"],
                                                      row["version"], now)
                except REFUSED as refused:
                    log.info("hold of incident %s not looked at: %s", row["incident_id"], refused)
                    continue
            log.info("incident %s: %s", row["incident_id"], outcome)
