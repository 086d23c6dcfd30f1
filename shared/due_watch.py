"""The loop of a replica-safe timer (the SLA watch's pattern): read the rows due by the
injected clock FOR UPDATE SKIP LOCKED from a read model, act on each through its aggregate
(whose guard checks the time itself), and wait for the read model to move or the poll to
pass. A DomainError or IntegrityError means another replica or a newer fact got there
first: the row is skipped."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from shared.errors import DomainError
from shared.store import IntegrityError


async def watch_due(runtime: Any, due: str, act: Callable[[Any], None], *, batch: int,
                    poll_seconds: float, done: str, log: logging.Logger) -> None:
    """`due` selects `id` with `$1` = now and `$2` = the batch; `act(id)` runs in a thread
    (the event store is synchronous); `done` is logged with the id after each success."""
    while True:
        seen = runtime.read_models.generation
        async with due_rows(runtime.pool, due, runtime.clock.now(), batch) as rows:
            for row in rows:
                try:
                    await asyncio.to_thread(act, row["id"])
                except (DomainError, IntegrityError):
                    continue
                log.info(done, row["id"])
        await runtime.read_models.wait(seen, poll_seconds)


@asynccontextmanager
async def due_rows(pool: asyncpg.Pool, query: str, *args: Any) -> AsyncIterator[list[Any]]:
    """The rows `query` (FOR UPDATE SKIP LOCKED) finds due, locked until the block ends.
    A timer wakes with every read-model batch and mostly finds nothing due: it looks once
    without a transaction (the statement's own; its locks end with it) and opens one only
    when there is something to lock, one statement per idle wake instead of three."""
    async with pool.acquire() as conn:
        if not await conn.fetch(query, *args):
            yield []
            return
        async with conn.transaction():
            yield await conn.fetch(query, *args)
