"""Outages of the infrastructure are not the message's fault: a consumer whose database goes
away for longer than its handler retries would last holds the message and handles it once the
database is back, with no delivery used up and nothing dead-lettered."""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import nats
import pytest
from eventsourcing.persistence import OperationalError
from psycopg.conninfo import conninfo_to_dict

from shared.bus.consumer import DurableConsumer, Subscription
from shared.bus.streams import ensure_streams
from shared.contracts import AlertRaised
from shared.observability import ServiceMetrics
from shared.store import ensure_schema, eventsourcing_env
from tests.integration.toy import (
    SERVICE, TALLY, ToyApplication, eventually, publish_alert, stop, stream_count,
)

pytestmark = pytest.mark.integration

STREAM = "DETECTOR"
DURABLE = f"{SERVICE}-detector"


class PostgresProxy:
    """A TCP door in front of the real PostgreSQL: closing it refuses new connections and
    breaks the open ones, as a failover or a network partition does. It runs on an event loop
    of its own, so a test blocking its loop on a query cannot stall the door."""

    def __init__(self, database_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        info = conninfo_to_dict(database_url)
        host, port = info.get("host") or "127.0.0.1", int(info.get("port") or 5432)
        self.dbname = info.get("dbname") or "postgres"
        self.user = info.get("user") or "postgres"
        self._connect = ((lambda: asyncio.open_unix_connection(f"{host}/.s.PGSQL.{port}"))
                         if host.startswith("/") else
                         (lambda: asyncio.open_connection(host, port)))
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.dbname}"

    def open(self) -> None:
        self._on_loop(self._open())

    def close(self) -> None:
        self._on_loop(self._close())

    def shutdown(self) -> None:
        if self._server is not None and self._server.is_serving():
            self.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def _on_loop(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()
        await self._server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await self._connect()
        except OSError:
            client_w.transport.abort()
            return
        self._pipes |= {client_w, server_w}
        await asyncio.gather(self._pump(client_r, server_w), self._pump(server_r, client_w))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
            self._pipes.discard(writer)


class HoldCount(logging.Handler):
    """Counts the consumer's "holding the messages in hand" log lines: one per retry."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "holding the messages in hand" in record.getMessage():
            self.count += 1


@pytest.fixture
def proxy(database_url):
    door = PostgresProxy(database_url)
    door.open()
    yield door
    door.shutdown()


def read_when_up(app: Any, key: str) -> int | None:
    """The test's own read, which can meet the pool still reconnecting (1 s connect timeout
    here): that is "not yet", not a failure of what is tested."""
    try:
        return app.value(key)
    except OperationalError:
        return None


async def test_a_database_outage_longer_than_the_retries_is_waited_out_not_dead_lettered(
        proxy, nats_url):
    ensure_schema(proxy.url, SERVICE)
    # A pooled connection is given up on after 1 s instead of 5: each try of the outage is short.
    env = {**eventsourcing_env(proxy.url, SERVICE), "POSTGRES_CONNECT_TIMEOUT": "1"}
    app = await asyncio.to_thread(ToyApplication, env)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    holds = HoldCount()
    logging.getLogger("shared.bus.hold").addHandler(holds)
    metrics = ServiceMetrics(SERVICE)
    # max_deliver=2: a consumer counting the outage against the message would dead-letter it
    # on its second failed try; this outage lasts longer than that.
    consumer = DurableConsumer(app, js, SERVICE, Subscription(
        stream=STREAM, handlers={AlertRaised: app.handle_alert_raised}),
        max_deliver=2, max_hold_wait=0.5, metrics=metrics)
    await ensure_streams(js)
    task = asyncio.create_task(consumer.run())
    try:
        await publish_alert(js, "before")
        await eventually(lambda: app.value(TALLY) == 1, message="handled while the database is up")

        proxy.close()  # the database goes away …
        await publish_alert(js, "during")
        await eventually(lambda: holds.count >= 3, timeout=60,
                         message="the consumer failed three tries and held on")
        info = await js.consumer_info(STREAM, DURABLE)
        assert info.num_ack_pending == 1 and info.num_redelivered == 0  # held, not redelivered
        assert await stream_count(js, "DLQ") == 0

        proxy.open()  # … and comes back
        await eventually(lambda: read_when_up(app, "seen:during") == 1, timeout=60,
                         message="the held message handled after recovery")
        await eventually(lambda: _settled(js), message="acknowledged")
        assert app.value(TALLY) == 2
        assert await stream_count(js, "DLQ") == 0
        assert not task.done()
        assert metrics.registry.get_sample_value(
            "closedloop_messages_dead_lettered_total",
            {"service": SERVICE, "source": DURABLE}) is None
    finally:
        logging.getLogger("shared.bus.hold").removeHandler(holds)
        await stop(task)
        await nc.close()
        await asyncio.to_thread(app.close)


async def _settled(js: Any) -> bool:
    info = await js.consumer_info(STREAM, DURABLE)
    return info.num_pending == 0 and info.num_ack_pending == 0
