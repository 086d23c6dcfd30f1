"""The window watch: closes the CAPA cases whose effectiveness window ended with the alert
clear. Replica-safe like the incidents' SLA watch: due rows are read FOR UPDATE SKIP LOCKED,
and a case closes once (two replicas racing collide on the save)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from shared.errors import DomainError
from shared.store import IntegrityError

log = logging.getLogger(__name__)

DUE = """
    SELECT id FROM capa_cases
    WHERE status = 'effectiveness' AND effectiveness_ends_at <= $1
    ORDER BY effectiveness_ends_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def watch_windows(runtime: Any) -> None:
    settings = runtime.settings
    while True:
        seen = runtime.read_models.generation
        async with runtime.pool.acquire() as conn, conn.transaction():
            for row in await conn.fetch(DUE, runtime.clock.now(), settings.effectiveness_batch):
                try:
                    await asyncio.to_thread(runtime.application.close_after_window, row["id"])
                except (DomainError, IntegrityError):
                    continue  # closed by another replica, or the alert fired first
                log.info("CAPA case %s closed: its effectiveness window ended clear", row["id"])
        await runtime.read_models.wait(seen, settings.effectiveness_poll_seconds)
