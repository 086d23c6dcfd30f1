"""The chase_due worker: fires every deadline phase that is due. Replica-safe like
escalate_due: due rows are read FOR UPDATE SKIP LOCKED, and the Deadline's guard refuses a
phase that already fired (two saves of one version end in IntegrityError for one)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from opentelemetry import trace

from services.notifier.workers import REFUSED, _survive

log = logging.getLogger(__name__)
tracer = trace.get_tracer("closedloop.notifier")

DUE_DEADLINES = """
    SELECT id, ref, key FROM deadlines
    WHERE status = 'waiting' AND next_at <= $1
    ORDER BY next_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def chase_due(runtime: Any) -> None:
    while True:
        await _survive(fire_due_chases(runtime), "chase_due")
        await asyncio.sleep(runtime.settings.worker_poll_seconds)


async def fire_due_chases(runtime: Any) -> None:
    app, now = runtime.application, runtime.clock.now()
    async with runtime.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(DUE_DEADLINES, now, runtime.settings.worker_batch)
        for row in rows:
            attributes = {"closedloop.deadline": row["key"], "closedloop.ref": row["ref"]}
            with tracer.start_as_current_span("notifier.ChaseDue.fire", attributes=attributes):
                try:
                    scheduled = await asyncio.to_thread(app.chase, row["id"], now)
                except REFUSED as refused:
                    log.info("deadline %s of %s not chased: %s", row["key"], row["ref"], refused)
                    continue
            log.info("incident %s: deadline %s chased, %d message(s) scheduled", row["ref"],
                     row["key"], len(scheduled))
