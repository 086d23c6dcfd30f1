"""The observation watch: closes the self-fixed incidents whose observation window ended with
the alert clear. Replica-safe like the SLA watch: due rows are read FOR UPDATE SKIP LOCKED,
and the aggregate closes once (two replicas racing collide on the save)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from shared.errors import DomainError
from shared.store import IntegrityError

log = logging.getLogger(__name__)

DUE = """
    SELECT id FROM incidents
    WHERE status = 'observing' AND observe_ends_at <= $1
    ORDER BY observe_ends_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def watch_observations(runtime: Any) -> None:
    settings = runtime.settings
    while True:
        seen = runtime.read_models.generation
        async with runtime.pool.acquire() as conn, conn.transaction():
            for row in await conn.fetch(DUE, runtime.clock.now(), settings.sla_batch):
                try:
                    await asyncio.to_thread(runtime.application.close_after_observation,
                                            row["id"])
                except (DomainError, IntegrityError):
                    continue  # closed by another replica, or the alert fired first
                log.info("incident %s closed: its observation window ended clear", row["id"])
        await runtime.read_models.wait(seen, settings.sla_poll_seconds)
