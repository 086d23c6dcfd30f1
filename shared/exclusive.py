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
        # A holder cut off by the network stops pinging; the server then ends its session
        # (and the lock) instead of keeping it until TCP gives up hours later.
        conn = await asyncpg.connect(dsn, server_settings={
            "idle_session_timeout": str(int(retry_seconds * 5 * 1000))})
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", name):
                log.info("%s: this replica holds the lease", name)
                await _while_held(conn, name, work, retry_seconds)
                return
        finally:
            try:
                await asyncio.wait_for(conn.close(), retry_seconds)
            except (asyncio.TimeoutError, OSError, asyncpg.PostgresError):
                conn.terminate()
        await asyncio.sleep(retry_seconds)


async def _while_held(conn: asyncpg.Connection, name: str, work: Callable[[], Awaitable[None]],
                      check_seconds: float) -> None:
    """Run `work` while the lock's connection lives; if it drops, Postgres has released the
    lock to someone else, so stop the work (the supervisor starts over)."""
    task = asyncio.ensure_future(work())
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=check_seconds)
            if not task.done():
                try:
                    await asyncio.wait_for(conn.fetchval("SELECT 1"), check_seconds)
                except (asyncpg.PostgresError, OSError, asyncio.TimeoutError) as error:
                    raise LeaseLost(f"{name}: lost the lease ({error!r})") from error
        task.result()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class LeaseLost(RuntimeError):
    pass
