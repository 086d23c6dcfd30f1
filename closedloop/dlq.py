"""`closedloop dlq list|replay`: read the dead-letter stream and put messages back, one by its
sequence or many by consumer, subject and time. A relay dead letter is a reference to a stored
event: replaying it reads that event from the service's store and publishes it again."""
from __future__ import annotations

import asyncio
import contextlib
import importlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, AsyncContextManager

import nats
from nats.js.errors import NotFoundError

from shared.bus import deadletter
from shared.bus.connection import connect_options
from shared.bus.deadletter import DeadLetter
from shared.bus.relay import OutboxRelay
from shared.settings import NatsSettings

# service name → a relay over that service's store, for replaying relay dead letters
RelayFor = Callable[[str, Any], AsyncContextManager[OutboxRelay]]


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command is about; an empty selection means all of them."""

    sequence: int | None = None
    consumer: str | None = None
    subject: str | None = None  # NATS wildcards allowed: * one token, > the rest
    since: datetime | None = None
    until: datetime | None = None

    @property
    def empty(self) -> bool:
        return not any((self.sequence, self.consumer, self.subject, self.since, self.until))

    def matches(self, letter: DeadLetter) -> bool:
        if self.sequence is not None and letter.sequence != self.sequence:
            return False
        if self.consumer and letter.consumer != self.consumer:
            return False
        if self.subject and not subject_matches(self.subject, letter.subject):
            return False
        if self.since and (letter.time is None or letter.time < self.since):
            return False
        return not (self.until and (letter.time is None or letter.time >= self.until))


def subject_matches(pattern: str, subject: str) -> bool:
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or (token != "*" and token != tokens[i]):
            return False
    return len(tokens) == len(wanted)


def _stored_at(msg: Any) -> datetime | None:
    value = getattr(msg, "time", None)
    if isinstance(value, str):  # nats-py leaves the server's RFC 3339 text (nanoseconds) as is
        value = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00"))
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value


async def dead_letters(js: Any, selection: Selection) -> AsyncIterator[DeadLetter]:
    info = await js.stream_info("DLQ")
    first = selection.sequence or info.state.first_seq
    last = selection.sequence or info.state.last_seq
    for seq in range(max(first, info.state.first_seq), min(last, info.state.last_seq) + 1):
        try:
            msg = await js.get_msg("DLQ", seq)
        except NotFoundError:  # deleted, or past the stream's max age
            continue
        letter = DeadLetter.from_msg(msg)
        letter = DeadLetter(**{**letter.__dict__, "time": _stored_at(msg)})
        if selection.matches(letter):
            yield letter


def describe(letter: DeadLetter) -> str:
    origin = (f"notification {letter.original_sequence} of {letter.relay_service}'s store"
              if letter.relay_service else f"original seq {letter.original_sequence}")
    at = letter.time.isoformat(timespec="seconds") if letter.time else "?"
    return (f"#{letter.sequence}  {at}  {letter.subject}  ({letter.consumer}, {origin})\n"
            f"      {letter.reason}")


async def list_letters(js: Any, selection: Selection) -> int:
    count = 0
    async for letter in dead_letters(js, selection):
        print(describe(letter))
        count += 1
    if count == 0:
        print("no dead letters" + ("" if selection.empty else " match"))
    return 0


async def replay_letters(js: Any, selection: Selection, relay_for: RelayFor | None) -> int:
    if selection.empty:
        print("closedloop dlq replay needs a DLQ sequence or at least one of --consumer, "
              "--subject, --since, --until (see `closedloop dlq list`)")
        return 2
    replayed = failed = 0
    async with contextlib.AsyncExitStack() as stack:
        relays: dict[str, OutboxRelay] = {}
        async for letter in dead_letters(js, selection):
            try:
                if letter.relay_service:
                    service = letter.relay_service
                    if relay_for is None:
                        raise RuntimeError("replaying a relay dead letter reads the service's "
                                           "store: set DATABASE_URL or start the stack")
                    if service not in relays:
                        relays[service] = await stack.enter_async_context(relay_for(service, js))
                    subject = await relays[service].republish(letter.original_sequence)
                else:
                    await deadletter.replay(js, letter.msg)
                    subject = letter.subject
            except Exception as error:  # report each letter; the others still go
                failed += 1
                print(f"dead letter #{letter.sequence} NOT replayed: {type(error).__name__}: {error}")
                continue
            replayed += 1
            print(f"dead letter #{letter.sequence} published again to {subject}")
    if replayed == failed == 0:
        print("no dead letters match")
    return 1 if failed else 0


async def dlq_command(server: str | NatsSettings, action: str, selection: Selection,
                      relay_for: RelayFor | None = None) -> int:
    # Replaying publishes to another producer's subject: only the admin NATS user may.
    settings = server if isinstance(server, NatsSettings) else NatsSettings(nats_url=server)
    try:
        # nats-py keeps trying an unreachable server during its first connect: bound it.
        nc = await asyncio.wait_for(nats.connect(
            **connect_options(settings), allow_reconnect=False, max_reconnect_attempts=1,
            connect_timeout=5, error_cb=_quiet), 15)
    except Exception as error:  # refused, unreachable, bad credentials: one line, not a trace
        print(f"cannot reach NATS at {settings.nats_url} ({type(error).__name__}: {error}); "
              "start the stack with `make up` or set NATS_URL")
        return 1
    js = nc.jetstream()
    try:
        try:
            await js.stream_info("DLQ")
        except NotFoundError:
            print(f"NATS at {settings.nats_url} has no DLQ stream: it is not closedloop's "
                  "(start the stack with `make up` or set NATS_URL), or `closedloop streams` "
                  "has not run there yet")
            return 1
        if action == "list":
            return await list_letters(js, selection)
        return await replay_letters(js, selection, relay_for)
    finally:
        await nc.close()


async def _quiet(error: Exception) -> None:
    """nats-py logs a traceback per failed attempt; the command reports the failure once."""


def store_relays(database_url: str) -> RelayFor:
    """Relays over the services' own stores (the shell may import services; shared/ may not)."""
    from shared.settings import ServiceSettings
    from shared.store import eventsourcing_env

    @contextlib.asynccontextmanager
    async def relay_for(service: str, js: Any) -> AsyncIterator[OutboxRelay]:
        parts = importlib.import_module(f"services.{service}.main").service_parts()
        settings = ServiceSettings(service=service)
        env = eventsourcing_env(database_url, settings.schema_name, settings.cipher_key)
        application = await asyncio.to_thread(parts.application, env, parts.clock)
        try:
            yield OutboxRelay(application, js, service, parts.translate)
        finally:
            await asyncio.to_thread(application.close)

    return relay_for
