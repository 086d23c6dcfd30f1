"""A toy service for the bus and read-model tests: Counters whose increments leave as
AlertRaised contracts, and a handler that counts the AlertRaised messages it consumes."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import asyncpg
from eventsourcing.domain import Aggregate, event

from shared.clock import Clock, SystemClock
from shared.contracts import AlertRaised, CloudEvent, Contract
from shared.readmodels import Projection, read_path
from shared.row_writes import own_rows
from shared.service import asyncpg_dsn
from shared.store import ServiceApplication, Tracking, ensure_schema, eventsourcing_env

SERVICE = "toy"
NS = uuid5(NAMESPACE_URL, "https://closedloop.dev/tests/toy")
TALLY = "tally"  # the one counter every consumed message increments (not idempotent by itself)
SUBJECT = AlertRaised.type_name()


class Counter(Aggregate):
    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NS, f"counter:{name}")

    @event("Created")
    def __init__(self, name: str, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.name, self.value = name, 0

    @event("Incremented")
    def increment(self, by: int, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.value += by


def to_contract(e: Any) -> Contract | None:
    """Increments are public (as AlertRaised), creations stay private."""
    if not isinstance(e, Counter.Incremented):
        return None
    return AlertRaised(
        alert_id=f"{e.originator_id}:{e.originator_version}", fingerprint=str(e.originator_id),
        source="rule", name="toy counter", entity=str(e.originator_id), severity="P3",
        value=float(e.by), started_at=e.at)


class ToyApplication(ServiceApplication):
    name = "toy"

    def __init__(self, env: dict[str, str] | None = None, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()
        # Tests steer the handler: called with (contract, tracking) before anything is saved.
        self.on_message: Callable[[AlertRaised, Tracking], None] | None = None
        self.handled: list[tuple[str, int]] = []  # (alert_id, stream sequence) per handler call
        self.count_tally = True  # every message also bumps one shared counter (a hot aggregate)

    def increment(self, name: str, by: int = 1, cause: dict[str, Any] | None = None) -> int:
        at = self.clock.now()
        counter = self.get_or_none(Counter.create_id(name)) or Counter(
            name=name, at=at, actor="test", cause=cause or {})
        counter.increment(by=by, at=at, actor="test", cause=cause or {})
        self.save(counter)
        return counter.value

    def value(self, name: str) -> int:
        counter = self.get_or_none(Counter.create_id(name))
        return counter.value if counter is not None else 0

    def handle_alert_raised(self, envelope: CloudEvent, contract: AlertRaised,
                            tracking: Tracking) -> None:
        self.handled.append((contract.alert_id, tracking.notification_id))
        if self.on_message is not None:
            self.on_message(contract, tracking)
        at, cause = self.clock.now(), {"causation_id": envelope.id}
        tally = None
        if self.count_tally:
            tally = self.get_or_none(Counter.create_id(TALLY)) or Counter(
                name=TALLY, at=at, actor="consumer", cause=cause)
            tally.increment(by=1, at=at, actor="consumer", cause=cause)
        # Idempotent by content: one `seen:<alert id>` counter per upstream alert (uuid5 id),
        # set to 1 when first seen and left alone by re-sends of the same alert.
        seen = self.get_or_none(Counter.create_id(f"seen:{contract.alert_id}"))
        if seen is None:
            seen = Counter(name=f"seen:{contract.alert_id}", at=at, actor="consumer", cause=cause)
            seen.increment(by=1, at=at, actor="consumer", cause=cause)
        self.save_tracked(tally, seen, tracking=tracking)


class ToyBoard(Projection):
    """Plain INSERTs into `toy_increments`: applying any event twice fails loudly."""

    name = "toy_board"
    tables = {
        "toy_counters": """CREATE TABLE IF NOT EXISTS toy_counters (
            id uuid PRIMARY KEY, name text NOT NULL, value int NOT NULL, version int NOT NULL)""",
        "toy_increments": """CREATE TABLE IF NOT EXISTS toy_increments (
            counter uuid NOT NULL, version int NOT NULL, by int NOT NULL,
            PRIMARY KEY (counter, version))""",
    }

    def __init__(self) -> None:
        # Tests steer the projection: called with each Incremented event before it is written.
        self.before_increment: Callable[[Any], None] | None = None

    def handlers(self) -> dict[type, Any]:
        return {Counter.Created: self.created, Counter.Incremented: self.incremented}

    async def created(self, conn: asyncpg.Connection, e: Any) -> None:
        await conn.execute("INSERT INTO toy_counters VALUES ($1, $2, 0, $3)",
                           e.originator_id, e.name, e.originator_version)

    async def incremented(self, conn: asyncpg.Connection, e: Any) -> None:
        if self.before_increment is not None:
            self.before_increment(e)
        await conn.execute("INSERT INTO toy_increments VALUES ($1, $2, $3)",
                           e.originator_id, e.originator_version, e.by)
        await conn.execute("UPDATE toy_counters SET value = value + $2, version = $3 WHERE id = $1",
                           e.originator_id, e.by, e.originator_version)


class RowsToyBoard(ToyBoard):
    """The same tables, its handlers marked `own_rows`: a batch's statements go together."""

    name = "toy_rows"

    @own_rows
    async def created(self, conn: asyncpg.Connection, e: Any) -> None:
        await super().created(conn, e)

    @own_rows
    async def incremented(self, conn: asyncpg.Connection, e: Any) -> None:
        await super().incremented(conn, e)


# -- infrastructure helpers -------------------------------------------------------------
def open_app(database_url: str) -> ToyApplication:
    ensure_schema(database_url, SERVICE)
    return ToyApplication(eventsourcing_env(database_url, SERVICE))


async def open_pool(database_url: str, projection: Projection | None = None) -> asyncpg.Pool:
    """Connections that read `projection`'s version of the read model (ToyBoard's by default)."""
    path = read_path(SERVICE, [projection or ToyBoard()])
    return await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=1, max_size=4,
                                     server_settings={"search_path": path})


def head(app: ServiceApplication) -> int:
    return app.recorder.max_notification_id() or 0


async def eventually(predicate: Callable[[], Any], timeout: float = 15.0,
                     message: str = "condition", interval: float = 0.05) -> Any:
    """Poll (sync or async predicate) with a deadline; returns its first truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for: {message}")
        await asyncio.sleep(interval)


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def alert_envelope(alert_id: str, *, msg_id: str | None = None) -> CloudEvent:
    contract = AlertRaised(alert_id=alert_id, fingerprint=f"fp-{alert_id}", source="rule",
                           name="upstream", entity="store-1", severity="P2",
                           started_at=datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc))
    return CloudEvent(id=msg_id or f"upstream:{alert_id}", source="closedloop/upstream",
                      type=SUBJECT, time=datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc),
                      data=contract.model_dump(mode="json"))


async def publish_alert(js: Any, alert_id: str, *, msg_id: str | None = None) -> int:
    """Publish as a relay would: the id is "upstream:<n>", n being the message's place in the
    stream, so a test can name the tracking row of the message at a given sequence."""
    if msg_id is None:
        msg_id = f"upstream:{(await js.stream_info('DETECTOR')).state.last_seq + 1}"
    envelope = alert_envelope(alert_id, msg_id=msg_id)
    ack = await js.publish(SUBJECT, envelope.to_bytes(), headers={"Nats-Msg-Id": envelope.id})
    return ack.seq


async def publish_raw(js: Any, data: bytes, msg_id: str, subject: str = SUBJECT) -> int:
    ack = await js.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
    return ack.seq


async def stream_messages(js: Any, stream: str) -> list[Any]:
    """Every message a stream holds, by direct get (no consumer involved)."""
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return []
    return [await js.get_msg(stream, seq)
            for seq in range(info.state.first_seq, info.state.last_seq + 1)]


async def stream_count(js: Any, stream: str) -> int:
    return (await js.stream_info(stream)).state.messages


async def stream_holds(js: Any, stream: str, count: int) -> bool:
    return await stream_count(js, stream) == count
