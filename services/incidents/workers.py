"""The SLA watch: finds incidents past a deadline or its at-risk time and records the
breach or the warning on each, once.
Replica-safe: due rows are read FOR UPDATE SKIP LOCKED, and the aggregate records a breach
only once (two replicas racing collide on the save). The storm watch ends a storm once its
rate has fallen (triage.py)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from shared.due_watch import due_rows
from shared.errors import DomainError
from shared.store import IntegrityError

log = logging.getLogger(__name__)

# Running clocks past their deadline, or past their at-risk time and not yet warned; none
# while the incident awaits its requester. The closure clock runs after the resolution.
DUE = """
    SELECT id FROM incidents
    WHERE status NOT IN ('closed', 'archived') AND paused_since IS NULL AND (
          (resolved_at IS NULL AND acknowledged_at IS NULL AND NOT respond_breached
           AND (respond_by <= $1 OR (NOT respond_warned AND respond_risk_at <= $1)))
       OR (resolved_at IS NULL AND NOT resolve_breached
           AND (resolve_by <= $1 OR (NOT resolve_warned AND resolve_risk_at <= $1)))
       OR (resolved_at IS NOT NULL AND NOT close_breached
           AND (close_by <= $1 OR (NOT close_warned AND close_risk_at <= $1))))
    ORDER BY respond_by
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def watch_sla(runtime: Any) -> None:
    settings = runtime.settings
    while True:
        seen = runtime.read_models.generation
        async with due_rows(runtime.pool, DUE, runtime.clock.now(), settings.sla_batch) as rows:
            for row in rows:
                try:
                    missed = await asyncio.to_thread(
                        runtime.application.record_sla_breaches, row["id"])
                except (DomainError, IntegrityError):
                    continue  # another replica recorded it first
                if missed:
                    log.warning("incident %s: SLA %s", row["id"], ", ".join(missed))
        await runtime.read_models.wait(seen, settings.sla_poll_seconds)


async def watch_storms(runtime: Any) -> None:
    application = runtime.application
    if not application.storm.on:
        return
    while True:
        seen = runtime.read_models.generation
        try:
            summary = await asyncio.to_thread(application.end_calm_storm)
        except (DomainError, IntegrityError):
            summary = None  # another replica ended it first
        if summary:
            log.warning("%s", summary)
        await runtime.read_models.wait(seen, runtime.settings.storm_poll_seconds)
