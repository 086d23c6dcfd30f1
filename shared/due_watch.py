"""The loop of a replica-safe timer (the SLA watch's pattern): read the rows due by the
injected clock FOR UPDATE SKIP LOCKED from a read model, act on each through its aggregate
(whose guard checks the time itself), and wait for the read model to move or the poll to
pass. A DomainError or IntegrityError means another replica or a newer fact got there
first: the row is skipped."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from shared.errors import DomainError
from shared.store import IntegrityError


async def watch_due(runtime: Any, due: str, act: Callable[[Any], None], *, batch: int,
                    poll_seconds: float, done: str, log: logging.Logger) -> None:
    """`due` selects `id` with `$1` = now and `$2` = the batch; `act(id)` runs in a thread
    (the event store is synchronous); `done` is logged with the id after each success."""
    while True:
        seen = runtime.read_models.generation
        async with runtime.pool.acquire() as conn, conn.transaction():
            for row in await conn.fetch(due, runtime.clock.now(), batch):
                try:
                    await asyncio.to_thread(act, row["id"])
                except (DomainError, IntegrityError):
                    continue
                log.info(done, row["id"])
        await runtime.read_models.wait(seen, poll_seconds)
