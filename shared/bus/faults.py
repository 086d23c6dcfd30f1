"""Which failures are the infrastructure's (wait and try again, never count against a message)
and which belong to one message (dead-letter it): the one place the bus decides."""
from __future__ import annotations

import asyncio
import socket

import asyncpg

import nats.errors
import nats.js.errors
import psycopg
from eventsourcing import persistence


# The database or NATS is away, busy or restarting: the same message will go through later.
# eventsourcing wraps psycopg's errors in its own classes (OperationalError covers serialization
# failures and deadlocks, which psycopg raises as OperationalError subclasses).
INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    persistence.OperationalError, persistence.InterfaceError,
    persistence.ConnectionUnavailableError, persistence.ConnectionPoolClosedError,
    psycopg.OperationalError, psycopg.InterfaceError,
    asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError, asyncpg.SerializationError, asyncpg.DeadlockDetectedError,
    ConnectionError, socket.gaierror,  # refused, reset, broken pipe, name lookup
    asyncio.TimeoutError,  # nats.errors.TimeoutError too
    nats.errors.ConnectionClosedError, nats.errors.NoServersError,
    nats.errors.StaleConnectionError, nats.errors.OutboundBufferLimitError,
    nats.errors.ConnectionReconnectingError, nats.errors.ConnectionDrainingError,
    nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError, nats.js.errors.TooManyStalledMsgsError,
)

# Wrong for this one message whatever the infrastructure does: too big for the server, a
# subject NATS refuses, or a JetStream verdict on the message itself (e.g. over the stream's
# max_msg_size). JetStream's 503 (no leader yet) is listed above and is checked first.
PERMANENT_PUBLISH: tuple[type[BaseException], ...] = (
    nats.errors.MaxPayloadError, nats.errors.BadSubjectError, nats.errors.BadHeaderError,
    nats.js.errors.APIError,
)


def is_infrastructure(error: BaseException) -> bool:
    """True when waiting for the database or NATS will fix it; looks through wrapped causes."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        if isinstance(current, INFRASTRUCTURE):
            return True
        current, seen = current.__cause__, seen + 1
    return False


def is_permanent_publish_error(error: BaseException) -> bool:
    """True when publishing this message can never succeed as it is."""
    return isinstance(error, PERMANENT_PUBLISH) and not is_infrastructure(error)
