"""The egress policy for libraries that connect on their own (Apprise sends with `requests`,
which connects through urllib3): urllib3's connect is wrapped once per process, and on a
thread that has a guard set (the notifier's Apprise threads, nothing else) each host is
resolved, every address checked against the policy, and only a checked address connected
to, so DNS cannot answer one address to the check and another to the connect. TLS still
verifies the URL's host name: urllib3 wraps the socket with it afterwards.

What the guard saw (a refusal, a connect that failed) is kept on the thread, so a send that
the library only reports as "failed" can still say why and whether to try again. So are the
answers: `requests`' send is wrapped the same way, and on a guarded thread each response's
status and the start of its body are kept, because a chat robot answers HTTP 200 with its
refusal in the body and Apprise's plugins mostly read only the status."""
from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from services.notifier.channels.egress import DestinationRefused, EgressPolicy

# (host, port) -> [(address, port)], what the guard connects to; tests point a service's fixed
# host (oapi.dingtalk.com) at a local receiver with one.
Resolve = Callable[[str, int], list[tuple[str, int]]]

# How much of an answer is kept: a robot's verdict is a short JSON object at its start.
ANSWER_BYTES = 8 * 1024

_local = threading.local()
_installed = threading.Lock()
_original: Any = None
_original_send: Any = None


def system_resolve(host: str, port: int) -> list[tuple[str, int]]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys((str(info[4][0]), port) for info in found))


@dataclass(frozen=True)
class Answer:
    """One HTTP response on a guarded thread: its status and the start of its body."""

    status: int
    head: bytes = field(repr=False)  # can echo what was sent: read, never recorded


@dataclass
class Seen:
    """What happened to one send's connections."""

    refused: str | None = None
    network_error: str | None = None
    connected: int = 0
    log: list[str] = field(default_factory=list)  # the library's warnings, this thread's
    answers: list[Answer] = field(default_factory=list)  # in the order they came


@dataclass(frozen=True)
class Guard:
    policy: EgressPolicy
    resolve: Resolve = system_resolve


def install() -> None:
    """Wrap urllib3's connect and requests' send (once per process; a thread without a guard
    is unaffected)."""
    global _original, _original_send
    with _installed:
        if _original is not None:
            return
        import requests.sessions
        import urllib3.util.connection as connection

        _original = connection.create_connection
        connection.create_connection = _guarded_connect
        _original_send = requests.sessions.Session.send
        requests.sessions.Session.send = _recorded_send
        # Apprise's own log lines can quote a token (an "invalid key" names it): they never
        # reach the service's log. Its warnings are kept on the sending thread instead, read
        # for a status code, and never recorded as they are.
        library = logging.getLogger("apprise")
        library.propagate = False
        library.setLevel(logging.WARNING)
        library.addHandler(_ThreadLog())
        # urllib3 logs each request line, query string included, at DEBUG: a DingTalk
        # token is in it. Not from the guarded threads.
        logging.getLogger("urllib3.connectionpool").addFilter(
            lambda record: current_seen() is None)


class _ThreadLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        seen = current_seen()
        if seen is not None:
            seen.log.append(record.getMessage())


@contextmanager
def guarded(guard: Guard) -> Iterator[Seen]:
    """Run a send on this thread under the guard; yields what it saw."""
    install()
    seen = Seen()
    _local.guard, _local.seen = guard, seen
    try:
        yield seen
    finally:
        _local.guard = _local.seen = None


def current_seen() -> Seen | None:
    return getattr(_local, "seen", None)


def _guarded_connect(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    guard: Guard | None = getattr(_local, "guard", None)
    if guard is None:
        return _original(address, *args, **kwargs)
    seen: Seen = _local.seen
    host, port = address
    try:
        resolved = guard.resolve(host.strip("[]"), port)
    except OSError as error:
        seen.network_error = f"{host} could not be resolved ({type(error).__name__})"
        raise
    try:
        guard.policy.check_resolved(host, [a for a, _ in resolved])
    except DestinationRefused as refused:
        seen.refused = str(refused)
        raise
    last: OSError | None = None
    for checked in resolved:
        try:
            sock = _original(checked, *args, **kwargs)  # an address: no DNS asked
        except OSError as error:
            last = error
            continue
        seen.connected += 1
        return sock
    seen.network_error = f"could not connect to {host}:{port} ({type(last).__name__})"
    raise last or OSError(f"{host} resolved to nothing")


def _recorded_send(session: Any, request: Any, **kwargs: Any) -> Any:
    response = _original_send(session, request, **kwargs)
    seen = current_seen()
    if seen is not None:
        # Not streamed (how Apprise sends), the body has been read already; a streamed one is
        # left for its reader, who alone may consume it.
        head = b"" if kwargs.get("stream") else (response.content or b"")[:ANSWER_BYTES]
        seen.answers.append(Answer(response.status_code, head))
    return response
