"""The runtime of one service: the store, the bus, and the long-running parts (outbox relay,
durable consumers, projections, timers) started together and drained together. The service
needs only its database to start and take writes; it joins NATS in the background and the
outbox relay catches up whenever the bus is back."""
from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats

from shared.bus.connection import connect_options
from shared.bus.consumer import DurableConsumer, Subscription
from shared.bus.relay import OutboxRelay, Translate
from shared.bus.streams import ensure_streams
from shared.clock import Clock, SystemClock
from shared.exclusive import Leases
from shared.read_pool import read_pool
from shared.readmodels import Changes, Projection, ProjectionRunner, read_path
from shared.settings import ServiceSettings
from shared.store import ServiceApplication, ensure_schema, eventsourcing_env

log = logging.getLogger(__name__)
HEALTHY_RUN_SECONDS = 30.0
READY_CHECK_SECONDS = 1.0


@dataclass
class ServiceParts:
    """What a service plugs into the runtime."""

    application: Callable[[dict[str, str], Clock], ServiceApplication]
    translate: Translate
    subscriptions: list[Subscription] = field(default_factory=list)
    projections: list[Projection] = field(default_factory=list)
    # Background work that needs the running service (timers, deliveries). Each worker is
    # started once per replica; make it replica-safe (SKIP LOCKED, optimistic concurrency).
    workers: list[Callable[["ServiceRuntime"], Awaitable[None]]] = field(default_factory=list)
    clock: Clock = field(default_factory=SystemClock)
    # Subscriptions are built from the running application (handlers are its methods).
    subscribe: Callable[[ServiceApplication], list[Subscription]] | None = None


async def listen_for_saves(leases: Leases, application: ServiceApplication) -> None:
    """Wake the log followers when any replica saves: the event store NOTIFYs on every insert,
    so followers need only a slow poll as a safety net."""
    await leases.listen(application.recorder.channel_name, lambda *_: application.wake_followers())


def asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://")


async def connect_nats(settings: ServiceSettings) -> Any:
    """The one place a service connects to NATS. A first attempt that finds no server raises
    (the caller retries); once connected the client reconnects by itself, forever."""
    return await nats.connect(name=f"closedloop-{settings.service}", allow_reconnect=True,
                              max_reconnect_attempts=-1, drain_timeout=5, error_cb=_bus_trouble,
                              **connect_options(settings))


async def _bus_trouble(error: Exception) -> None:
    log.warning("nats: %r", error)


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings, parts: ServiceParts, metrics: Any) -> None:
        self.settings, self.parts, self.metrics = settings, parts, metrics
        self.clock = parts.clock
        self.application: Any = None
        self.pool: asyncpg.Pool | None = None
        self.nc: Any = None
        self.js: Any = None
        self.projection_runners: list[ProjectionRunner] = []
        self._tasks: list[asyncio.Task] = []
        self.failures: dict[str, tuple[float, str]] = {}
        self.read_models = Changes()  # workers wait on it instead of sleeping a whole poll
        self.components: dict[str, Any] = {}  # a service's own long-lived parts, by name
        self.leases: Leases | None = None  # its leases and LISTENs, on one connection
        self.ready = False
        self._read_models_ready = False

    async def start(self) -> None:
        """Open the store and the read models and start everything; only the database must
        answer. The bus is joined by a supervised component that keeps trying."""
        s = self.settings
        url = s.require_database()
        await asyncio.to_thread(ensure_schema, url, s.schema_name)
        env = eventsourcing_env(url, s.schema_name, s.cipher_key, s.chain_key)
        self.application = await asyncio.to_thread(self.parts.application, env, self.clock)
        self.pool = await read_pool(
            asyncpg_dsn(url), size=s.read_connections,
            search_path=read_path(s.schema_name, self.parts.projections),
            name=f"closedloop-{s.service}")
        async with self.pool.acquire() as conn:  # read tables exist before any worker asks
            for projection in self.parts.projections:
                await projection.create(conn, s.schema_name)

        self.leases = Leases(asyncpg_dsn(url))
        self._spawn("listen", lambda: listen_for_saves(self.leases, self.application))
        for projection in self.parts.projections:
            runner = ProjectionRunner(self.application, self.pool, projection,
                                      poll_seconds=s.relay_poll_seconds, changes=self.read_models,
                                      service_schema=s.schema_name, clock=self.clock)
            self.projection_runners.append(runner)
            self._spawn(f"projection:{projection.name}", lambda r=runner: self.leases.run(
                r.projection.lease(s.schema_name), r.run))
        self._spawn("bus", self._join_bus)
        for worker in self.parts.workers:
            self._spawn(f"worker:{worker.__name__}", lambda w=worker: w(self))
        # Everything built so far lives as long as the process: move it out of the cyclic
        # collector's sight, so collections during busy requests traverse only young objects.
        gc.freeze()
        self.ready = True
        self.metrics.ready.set(1)

    async def _join_bus(self) -> None:
        """Connect to NATS, then start the relay and the consumers; until then writes are
        stored and wait in the outbox."""
        s = self.settings
        nc = await connect_nats(s)
        try:
            js = nc.jetstream()
            await ensure_streams(js)
        except BaseException:
            await nc.close()
            raise
        self.nc, self.js = nc, js
        relay = OutboxRelay(self.application, js, s.service, self.parts.translate,
                            poll_seconds=s.relay_poll_seconds, metrics=self.metrics)
        self._spawn("relay", lambda: self.leases.run(f"{s.schema_name}:relay", relay.run))
        subscriptions = list(self.parts.subscriptions)
        if self.parts.subscribe is not None:
            subscriptions += self.parts.subscribe(self.application)
        for sub in subscriptions:
            consumer = DurableConsumer(self.application, js, s.service, sub,
                                       batch=s.consumer_batch, max_deliver=s.max_deliver,
                                       metrics=self.metrics, clock=self.clock)
            self._spawn(f"consumer:{consumer.durable}", consumer.run)

    async def is_ready(self) -> bool:
        """Readiness: started, the database answers, and this release's read models have
        caught up once. The bus and the components are not part of it: a NATS outage must not
        take the service out of its load balancer, since writes wait in the outbox."""
        if not self.ready or self.pool is None:
            return False
        try:
            async with self.pool.acquire(timeout=READY_CHECK_SECONDS) as conn:
                await conn.fetchval("SELECT 1", timeout=READY_CHECK_SECONDS)
                if not self._read_models_ready:
                    checks = [await p.caught_up(conn, self.settings.schema_name)
                              for p in self.parts.projections]
                    self._read_models_ready = all(checks)  # once caught up, lag is no reason
        except (asyncpg.PostgresError, OSError, asyncio.TimeoutError):
            return False
        return self._read_models_ready

    async def details(self) -> dict[str, Any]:
        """What an operator needs to see (behind an API key): bus, components, read models."""
        versions = {}
        if self.pool is not None:
            async with self.pool.acquire(timeout=READY_CHECK_SECONDS) as conn:
                for p in self.parts.projections:
                    versions[p.name] = {"current": p.version_schema(self.settings.schema_name),
                                        "versions": await p.versions(conn, self.settings.schema_name)}
        return {"status": "ready" if await self.is_ready() else "unavailable",
                "bus": "connected" if self.nc is not None and self.nc.is_connected else "disconnected",
                "failing": self.failing(),
                "components": sorted(t.get_name() for t in self._tasks if not t.done()),
                "read_models": versions}

    def _spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        """Run a component forever, restarting it with backoff when it fails. Failures are
        counted on /metrics and listed in the authenticated health details."""
        async def supervised() -> None:
            delay = 0.2
            while True:
                started = time.monotonic()
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                        delay = 0.2  # it ran well for a while: a fresh failure, not a loop
                    self.failures[name] = (time.monotonic(), repr(error)[:300])
                    self.metrics.restarts.labels(self.settings.service, name).inc()
                    log.exception("%s: %s stopped; restarting in %.1fs", self.settings.service, name, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10)

        self._tasks.append(asyncio.create_task(supervised(), name=name))

    def failing(self) -> dict[str, str]:
        """Components that failed within the last HEALTHY_RUN_SECONDS, with their last error."""
        now = time.monotonic()
        return {name: error for name, (at, error) in self.failures.items()
                if now - at < HEALTHY_RUN_SECONDS}

    async def caught_up(self, timeout: float = 10.0) -> None:
        """Wait until every projection has applied what is in the log right now."""
        head = await asyncio.to_thread(self.application.recorder.max_notification_id) or 0
        deadline = asyncio.get_running_loop().time() + timeout
        while any(r.position < head for r in self.projection_runners):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("projections did not catch up")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.ready = False
        self.metrics.ready.set(0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.leases is not None:
            await self.leases.close()
        if self.nc is not None:
            try:  # a client still reconnecting cannot drain: give up and close
                await asyncio.wait_for(self.nc.drain(), 10)
            except (asyncio.TimeoutError, nats.errors.Error):
                await self.nc.close()
        if self.pool is not None:
            await self.pool.close()
        if self.application is not None:
            await asyncio.to_thread(self.application.close)
