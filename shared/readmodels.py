"""Read models: tables written only by projections, which follow the application's log and
record their position in the same asyncpg transaction as the rows they write. Dropping the
tables and replaying the log (`closedloop replay <service>`) rebuilds them exactly."""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from shared.bus.follower import Batch, LogFollower
from shared.store import ServiceApplication

Apply = Callable[[asyncpg.Connection, Any], Awaitable[None]]

POSITIONS_DDL = """
CREATE TABLE IF NOT EXISTS projection_positions (
    projection text PRIMARY KEY,
    position bigint NOT NULL
);
ALTER TABLE projection_positions ADD COLUMN IF NOT EXISTS schema text NOT NULL DEFAULT ''"""


class Changes:
    """Tells workers that read models changed, so they look at once instead of at their next
    poll. A generation number means a change made while a worker was busy is not missed."""

    def __init__(self) -> None:
        self.generation = 0
        self._event = asyncio.Event()

    def notify(self) -> None:
        self.generation += 1
        self._event.set()

    async def wait(self, since: int, timeout: float) -> None:
        """Return when something changed after generation `since`, or after `timeout`."""
        if self.generation != since:
            return
        self._event.clear()
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            pass


class PositionMoved(RuntimeError):
    pass


class Projection:
    """Subclasses set `name`, `tables` (name → CREATE TABLE statement) and `handlers`
    (domain event class → async apply(conn, event))."""

    name: str
    tables: dict[str, str] = {}

    def handlers(self) -> dict[type, Apply]:
        raise NotImplementedError

    @property
    def schema(self) -> str:
        """Identifies the tables' shape: when a release changes a CREATE TABLE statement, the
        read model is dropped and replayed from the log into the new shape by itself."""
        return hashlib.sha256("\n".join(self.tables.values()).encode()).hexdigest()[:16]

    async def create(self, conn: asyncpg.Connection) -> None:
        await conn.execute(POSITIONS_DDL)
        stored = await conn.fetchval(
            "SELECT schema FROM projection_positions WHERE projection = $1", self.name)
        if stored is not None and stored != self.schema:
            await self.drop(conn)
        for ddl in self.tables.values():
            await conn.execute(ddl)
        await conn.execute(
            "INSERT INTO projection_positions (projection, position, schema) VALUES ($1, 0, $2) "
            "ON CONFLICT (projection) DO NOTHING", self.name, self.schema)

    async def drop(self, conn: asyncpg.Connection) -> None:
        for table in reversed(list(self.tables)):
            await conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        await conn.execute(POSITIONS_DDL)
        await conn.execute("DELETE FROM projection_positions WHERE projection = $1", self.name)


class ProjectionRunner:
    def __init__(self, app: ServiceApplication, pool: asyncpg.Pool, projection: Projection,
                 *, poll_seconds: float = 0.05, changes: Changes | None = None) -> None:
        self.app, self.pool, self.projection = app, pool, projection
        self.changes = changes
        self.poll_seconds = poll_seconds
        self._handlers = projection.handlers()
        self.position = 0
        self.caught_up = asyncio.Event()

    async def position_in_store(self) -> int:
        async with self.pool.acquire() as conn:
            await self.projection.create(conn)
            return await conn.fetchval(
                "SELECT position FROM projection_positions WHERE projection = $1",
                self.projection.name) or 0

    async def run(self) -> None:
        self.position = await self.position_in_store()
        with self.follower() as follower:
            async for batch in follower.batches(self.position, on_caught_up=self.caught_up.set):
                await self.apply(batch)

    def follower(self) -> LogFollower:
        return LogFollower(self.app, poll_seconds=self.poll_seconds)

    async def apply(self, batch: Batch) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await self._check_position(conn)
            for _, event in batch:
                handler = self._handlers.get(type(event))
                if handler is not None:
                    await handler(conn, event)
            last = batch[-1][0].id
            await conn.execute(
                "INSERT INTO projection_positions (projection, position) VALUES ($1, $2) "
                "ON CONFLICT (projection) DO UPDATE SET position = EXCLUDED.position",
                self.projection.name, last)
        self.position = last
        if self.changes is not None:
            self.changes.notify()

    async def _check_position(self, conn: asyncpg.Connection) -> None:
        """Lock the position row and make sure it is where this runner left it: a runner that
        lost its lease without noticing must not write rows out of order."""
        stored = await conn.fetchval(
            "SELECT position FROM projection_positions WHERE projection = $1 FOR UPDATE",
            self.projection.name)
        if stored is None:
            await self.projection.create(conn)
            stored = 0
        if stored != self.position:
            raise PositionMoved(f"{self.projection.name}: the stored position is {stored}, this "
                                f"runner is at {self.position}; another runner is active")

    async def rebuild(self) -> int:
        """Drop the projection's tables and replay the whole log; returns the final position."""
        async with self.pool.acquire() as conn:
            await self.projection.drop(conn)
            await self.projection.create(conn)
        self.position = 0
        with self.follower() as follower:
            async for batch in follower.batches(0, until_caught_up=True):
                await self.apply(batch)
        return self.position
