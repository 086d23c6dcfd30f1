"""Run a follower on one replica at a time, using a PostgreSQL session advisory lock.

The lock lives as long as its connection: if the holder dies, Postgres releases it and a
standby replica takes over within `retry_seconds`."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)


async def run_exclusively(dsn: str, name: str, work: Callable[[], Awaitable[None]],
                          retry_seconds: float = 2.0) -> None:
    while True:
        conn = await asyncpg.connect(dsn)
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", name):
                log.info("%s: this replica holds the lease", name)
                await work()
                return
        finally:
            await conn.close()
        await asyncio.sleep(retry_seconds)
