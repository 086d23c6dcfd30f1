"""Read models: tables written only by projections, which follow the application's log and
record their position in the same asyncpg transaction as the rows they write. Each shape of a
projection's tables lives in a PostgreSQL schema of its own (`<service>__<projection>__<shape>`),
so two releases running side by side each read and keep current the version their code knows;
`closedloop replay <service>` rebuilds the current version from the log exactly."""
from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from eventsourcing.utils import get_topic

from shared.bus.follower import Batch, LogFollower
from shared.clock import Clock, SystemClock
from shared.row_writes import RowWrites, row_key
from shared.store import ServiceApplication

Apply = Callable[[asyncpg.Connection, Any], Awaitable[None]]
HEARTBEAT_SECONDS = 30.0
# A runner that only skips events of other topics stores its position at most this often: a
# save elsewhere in the service then costs it no transaction (a restart skips them again).
SKIPPED_WRITE_SECONDS = 5.0
# A version nobody has kept current for this long belongs to a release that is gone.
KEEP_UNUSED_VERSIONS = timedelta(minutes=15)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_path(service_schema: str, projections: Iterable["Projection"]) -> str:
    """The search_path of a read-model connection: this code's version of every projection,
    then the service's own schema (sample store, legacy tables)."""
    return ", ".join([*(quoted(p.version_schema(service_schema)) for p in projections),
                      quoted(service_schema)])


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
    (domain event class → async apply(conn, event)). Statements name tables unqualified: they
    run with the version's schema first on the search_path."""

    name: str
    tables: dict[str, str] = {}

    def handlers(self) -> dict[type, Apply]:
        raise NotImplementedError

    @property
    def shape(self) -> str:
        """Identifies the tables' shape: a release that changes a CREATE TABLE statement gets
        a new version, built beside the old one instead of dropping it."""
        return hashlib.sha256("\n".join([self.name, *self.tables.values()]).encode()).hexdigest()[:8]

    def version_schema(self, service_schema: str) -> str:
        name = f"{service_schema}__{self.name}__{self.shape}"
        if len(name) > 63:  # PostgreSQL would truncate it silently
            raise ValueError(f"read-model schema name {name!r} is over 63 characters; "
                             "shorten the projection's name")
        return name

    def lease(self, service_schema: str) -> str:
        """One runner per version keeps it current; two releases each keep their own."""
        return f"{service_schema}:projection:{self.name}:{self.shape}"

    async def create(self, conn: asyncpg.Connection, service_schema: str) -> None:
        version = self.version_schema(service_schema)
        async with conn.transaction():  # two pods starting at once: one creates, one waits
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", version)
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(version)}")
            await conn.execute(f"SET LOCAL search_path TO {quoted(version)}")
            await conn.execute("""CREATE TABLE IF NOT EXISTS projection_positions (
                projection text PRIMARY KEY, position bigint NOT NULL,
                caught_up boolean NOT NULL DEFAULT false, seen_at timestamptz)""")
            for ddl in self.tables.values():
                await conn.execute(ddl)
            await conn.execute(
                "INSERT INTO projection_positions (projection, position) VALUES ($1, 0) "
                "ON CONFLICT (projection) DO NOTHING", self.name)

    async def drop(self, conn: asyncpg.Connection, service_schema: str) -> None:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(self.version_schema(service_schema))} CASCADE")

    async def caught_up(self, conn: asyncpg.Connection, service_schema: str) -> bool:
        """Whether this version has once reached the head of the log (readiness waits for it)."""
        table = f"{quoted(self.version_schema(service_schema))}.projection_positions"
        try:
            return bool(await conn.fetchval(
                f"SELECT caught_up FROM {table} WHERE projection = $1", self.name))
        except asyncpg.UndefinedTableError:
            return False

    async def versions(self, conn: asyncpg.Connection, service_schema: str) -> list[dict[str, Any]]:
        """Every stored version of this projection: schema, position, caught up, last seen."""
        schemas = await conn.fetch(
            "SELECT schema_name FROM information_schema.schemata WHERE starts_with(schema_name, $1)",
            f"{service_schema}__{self.name}__")
        found = []
        for row in schemas:
            table = f"{quoted(row['schema_name'])}.projection_positions"
            try:
                info = await conn.fetchrow(
                    f"SELECT position, caught_up, seen_at FROM {table} WHERE projection = $1", self.name)
            except asyncpg.UndefinedTableError:
                info = None
            found.append({"schema": row["schema_name"], **(dict(info) if info else {
                "position": 0, "caught_up": False, "seen_at": None})})
        return found

    async def prune(self, conn: asyncpg.Connection, service_schema: str,
                    unused_since: datetime | None) -> list[str]:
        """Drop other versions nobody kept current since `unused_since` (None: every other
        version, and the tables of the unversioned layout); returns the schemas dropped."""
        mine = self.version_schema(service_schema)
        dropped = []
        for version in await self.versions(conn, service_schema):
            seen = version["seen_at"]
            # A version never seen is being created right now: only an explicit prune drops it.
            if version["schema"] != mine and (
                    unused_since is None or (seen is not None and seen < unused_since)):
                await conn.execute(f"DROP SCHEMA IF EXISTS {quoted(version['schema'])} CASCADE")
                dropped.append(version["schema"])
        if unused_since is None:
            for table in reversed(list(self.tables)):
                await conn.execute(f"DROP TABLE IF EXISTS {quoted(service_schema)}.{quoted(table)} CASCADE")
        return dropped


class ProjectionRunner:
    """Keeps one version of a projection current. Run it under `projection.lease(...)`."""

    def __init__(self, app: ServiceApplication, pool: asyncpg.Pool, projection: Projection,
                 *, poll_seconds: float = 0.05, changes: Changes | None = None,
                 service_schema: str | None = None, clock: Clock | None = None,
                 heartbeat_seconds: float = HEARTBEAT_SECONDS,
                 keep_unused: timedelta = KEEP_UNUSED_VERSIONS) -> None:
        self.app, self.pool, self.projection = app, pool, projection
        self.changes = changes
        self.poll_seconds = poll_seconds
        self.base = service_schema or app.env["POSTGRES_SCHEMA"]
        self.schema = projection.version_schema(self.base)
        self.clock = clock or SystemClock()
        self.heartbeat_seconds, self.keep_unused = heartbeat_seconds, keep_unused
        self._positions = f"{quoted(self.schema)}.projection_positions"
        self._handlers = projection.handlers()
        self.position = 0  # the log applied (or skipped) so far
        self._stored = 0  # the position in projection_positions, as this runner left it
        self._stored_at = 0.0  # when (event-loop time) it was last written
        self.caught_up = asyncio.Event()

    async def position_in_store(self) -> int:
        async with self.pool.acquire() as conn:
            await self.projection.create(conn, self.base)
            return await conn.fetchval(
                f"SELECT position FROM {self._positions} WHERE projection = $1",
                self.projection.name) or 0

    async def run(self) -> None:
        self.position = self._stored = await self.position_in_store()
        keep_alive = asyncio.create_task(self._keep_alive())
        try:
            with self.follower() as follower:
                async for batch in follower.batches(self.position, on_caught_up=self.caught_up.set):
                    await self.apply(batch, follower.position)
        finally:
            keep_alive.cancel()
            await asyncio.gather(keep_alive, return_exceptions=True)

    async def _keep_alive(self) -> None:
        """Say this version is in use (so no other release prunes it), record when it first
        caught up (the pods of this release wait for that to be ready), and prune versions
        no release has kept current for a while."""
        while True:
            caught_up = self.caught_up.is_set()
            async with self.pool.acquire() as conn:
                await conn.execute(
                    f"UPDATE {self._positions} SET seen_at = $2, caught_up = caught_up OR $3 "
                    "WHERE projection = $1", self.projection.name, self.clock.now(), caught_up)
                if caught_up:
                    await self.projection.prune(conn, self.base, self.clock.now() - self.keep_unused)
            if caught_up:
                await asyncio.sleep(self.heartbeat_seconds)
            else:
                try:
                    await asyncio.wait_for(self.caught_up.wait(), self.heartbeat_seconds)
                except TimeoutError:
                    pass

    def follower(self) -> LogFollower:
        # Only the events this projection handles: a service with several projections reads
        # each event once per projection that needs it, not once per projection.
        return LogFollower(self.app, poll_seconds=self.poll_seconds,
                           topics=[get_topic(cls) for cls in self._handlers])

    async def apply(self, batch: Batch, up_to: int) -> None:
        """Apply a batch and store the position `up_to`. An empty batch (events of other
        topics skipped) only moves the position in memory, stored with the next batch or
        after SKIPPED_WRITE_SECONDS: every save of the service wakes every projection, and
        most saves concern a few of them."""
        now = asyncio.get_running_loop().time()
        if not batch and now - self._stored_at < SKIPPED_WRITE_SECONDS:
            self.position = up_to
            return
        async with self.pool.acquire() as conn, conn.transaction():
            # Handlers name tables unqualified: they land in this runner's version.
            await conn.execute(f"SET LOCAL search_path TO {quoted(self.schema)}, {quoted(self.base)}")
            await self._check_position(conn)
            writes = RowWrites()
            for _, event in batch:
                handler = self._handlers.get(type(event))
                if handler is None:
                    continue
                key = row_key(handler)
                if key is not None:
                    await writes.record(handler, key, event)
                else:  # it may read what the recorded statements write: send them first
                    await writes.send(conn)
                    await handler(conn, event)
            await writes.send(conn)
            last = up_to
            await conn.execute(f"UPDATE {self._positions} SET position = $2 WHERE projection = $1",
                               self.projection.name, last)
        self.position = self._stored = last
        self._stored_at = now
        if batch and self.changes is not None:
            self.changes.notify()

    async def _check_position(self, conn: asyncpg.Connection) -> None:
        """Lock the position row and make sure it is where this runner left it: a runner that
        lost its lease without noticing must not write rows out of order."""
        stored = await conn.fetchval(
            f"SELECT position FROM {self._positions} WHERE projection = $1 FOR UPDATE",
            self.projection.name)
        if stored != self._stored:
            raise PositionMoved(f"{self.projection.name}: the stored position is {stored}, this "
                                f"runner left it at {self._stored}; another runner is active")

    async def rebuild(self) -> int:
        """Drop this version's tables and replay the whole log; returns the final position."""
        async with self.pool.acquire() as conn:
            await self.projection.drop(conn, self.base)
            await self.projection.create(conn, self.base)
        self.position = self._stored = 0
        with self.follower() as follower:
            async for batch in follower.batches(0, until_caught_up=True):
                await self.apply(batch, follower.position)
        async with self.pool.acquire() as conn:  # with the position of any events skipped last
            await conn.execute(f"UPDATE {self._positions} SET caught_up = true, seen_at = $2, "
                               "position = $3 WHERE projection = $1", self.projection.name,
                               self.clock.now(), self.position)
        self._stored = self.position
        return self.position
