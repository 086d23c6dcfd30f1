"""Run a follower on one replica at a time, using PostgreSQL session advisory locks, and hear
NOTIFYs, all on one connection per process.

A service process holds all its leases (its relay, each read model, the detector's clock) and
its LISTENs (saves, rule changes, the board's feed) on one connection: every PostgreSQL backend
keeps 2-3 MiB of its own, and the dozen idle backends that each held one lock or one LISTEN
were a tenth of the stack's memory (docs/adr/database-connections.md).
A lock lives as long as its connection: if the holder dies, Postgres releases it and a standby
replica takes over within `retry_seconds`; if the connection drops, every lease on it is lost
at once and each follower starts over (its supervisor calls `run` again)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)
FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError)


class LeaseLost(RuntimeError):
    pass


class _Link:
    """One connection and the event that says it is gone."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn, self.lost = conn, asyncio.Event()
        self.busy = asyncio.Lock()  # a connection answers one query at a time


class Leases:
    """The leases and LISTENs of one process, all on one connection, opened on first use and kept alive
    by a ping every `retry_seconds` (which also finds a dead connection)."""

    def __init__(self, dsn: str, retry_seconds: float = 2.0) -> None:
        self.dsn, self.retry_seconds = dsn, retry_seconds
        self._link: _Link | None = None
        self._connecting = asyncio.Lock()
        self._pinger: asyncio.Task | None = None

    async def run(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` while this process holds the lease `name`; wait for it until then. The
        lease is released when `work` ends; a lost connection raises LeaseLost."""
        while True:
            link = await self._connected()
            if await self._query(link, "SELECT pg_try_advisory_lock(hashtext($1))", name):
                log.info("%s: this replica holds the lease", name)
                try:
                    await _while_held(link, name, work)
                    return
                finally:
                    await self._release(link, name)
            await asyncio.sleep(self.retry_seconds)

    async def listen(self, channel: str, heard: Callable[..., object],
                     listening: Callable[[], object] = lambda: None) -> None:
        """Hear NOTIFYs on `channel` on the same connection until it drops, then raise
        LeaseLost (the supervisor listens again on the next one). A NOTIFY sent while no
        connection lived is not heard: listeners keep a slow poll as a safety net."""
        link = await self._connected()
        try:
            async with link.busy:
                await link.conn.add_listener(channel, heard)
        except FAILURES as error:
            await self._drop(link)
            raise LeaseLost(f"{channel}: could not listen ({error!r})") from error
        listening()
        try:
            await link.lost.wait()
        finally:
            if not link.lost.is_set():  # cancelled: stop hearing, the connection stays
                with contextlib.suppress(*FAILURES):
                    async with link.busy:
                        await link.conn.remove_listener(channel, heard)
        raise LeaseLost(f"{channel}: the connection it listened on is gone")

    async def close(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
            await asyncio.gather(self._pinger, return_exceptions=True)
        if self._link is not None:
            await self._drop(self._link)

    async def _connected(self) -> _Link:
        async with self._connecting:
            if self._link is None or self._link.lost.is_set():
                # A holder cut off by the network stops pinging; the server then ends its
                # session (and the locks) instead of keeping them until TCP gives up hours later.
                conn = await asyncpg.connect(self.dsn, server_settings={
                    "idle_session_timeout": str(int(self.retry_seconds * 5 * 1000)),
                    "application_name": "closedloop-leases"})
                self._link = _Link(conn)
                if self._pinger is not None:
                    self._pinger.cancel()
                self._pinger = asyncio.create_task(self._ping(self._link), name="leases:ping")
            return self._link

    async def _query(self, link: _Link, sql: str, *args: object) -> object:
        try:
            async with link.busy:
                if link.lost.is_set():
                    raise LeaseLost("the lease connection is gone")
                return await asyncio.wait_for(link.conn.fetchval(sql, *args), self.retry_seconds)
        except FAILURES as error:
            await self._drop(link)
            raise LeaseLost(f"lost the lease connection ({error!r})") from error

    async def _ping(self, link: _Link) -> None:
        while not link.lost.is_set():
            await asyncio.sleep(self.retry_seconds)
            with contextlib.suppress(LeaseLost):
                await self._query(link, "SELECT 1")

    async def _release(self, link: _Link, name: str) -> None:
        with contextlib.suppress(LeaseLost):  # a lost connection has released it already
            await self._query(link, "SELECT pg_advisory_unlock(hashtext($1))", name)

    async def _drop(self, link: _Link) -> None:
        link.lost.set()
        try:
            await asyncio.wait_for(link.conn.close(), self.retry_seconds)
        except FAILURES:
            link.conn.terminate()


async def _while_held(link: _Link, name: str, work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` while the lease's connection lives; if it drops, Postgres has released the
    lock to someone else, so stop the work (the supervisor starts over)."""
    task = asyncio.ensure_future(work())
    lost = asyncio.ensure_future(link.lost.wait())
    try:
        await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            raise LeaseLost(f"{name}: lost the lease (its connection is gone)")
        task.result()
    finally:
        for pending in (task, lost):
            pending.cancel()
        await asyncio.gather(task, lost, return_exceptions=True)
