"""The HTTP client channels send with (aiohttp): its resolver resolves each host, checks every
address against the egress policy and hands the connector only checked addresses, which it
connects to without asking DNS again, so DNS cannot answer one address to the check and
another to the connect (rebinding). A URL whose host is an IP literal never reaches a
resolver, so a request middleware judges the literal first. TLS still verifies the URL's
host name (SNI and certificate), and the Host header is the URL's."""
from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from services.notifier.channels.egress import EgressPolicy


class GuardedResolver(AbstractResolver):
    def __init__(self, policy: EgressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        self.inner = inner or aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        resolved = await self.inner.resolve(host, port, family)
        self.policy.check_resolved(host, list(dict.fromkeys(r["host"] for r in resolved)))
        return resolved

    async def close(self) -> None:
        await self.inner.close()


def literal_guard(policy: EgressPolicy) -> Any:
    """A request middleware refusing internal IP literals, which aiohttp connects to as they
    are, without a resolver."""
    async def guard(request: aiohttp.ClientRequest, handler: Any) -> aiohttp.ClientResponse:
        host = request.url.raw_host or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass  # a name: the resolver checks what it resolves to
        else:
            policy.check_resolved(host, [host])
        return await handler(request)
    return guard


def verified_tls_context() -> ssl.SSLContext:
    """The CAs receivers' certificates are verified against: SSL_CERT_FILE or SSL_CERT_DIR
    when set, else certifi's bundle (the trust of httpx.create_ssl_context(), without
    importing httpx into the notifier for it: ~10 MiB per process)."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def guarded_session(policy: EgressPolicy, timeout: float, ssl_context: ssl.SSLContext,
                    socket_factory: Callable[[Any], socket.socket] | None = None,
                    ) -> aiohttp.ClientSession:
    """One session, one connection pool: aiohttp's pool takes an idle connection without
    looking at the others, so there is no need for httpx-era lanes of one connection each.
    No connection limit here: the delivery worker bounds sends in flight (`worker_batch`) and
    the lanes bound them per channel. socket_factory is for tests that record connects."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy), ssl=ssl_context,
                                     limit=0, socket_factory=socket_factory)
    # trust_env=False (the default, said out loud): an HTTP(S)_PROXY from the environment
    # would move the connect to the proxy, out of the guard's sight. total bounds the whole
    # exchange, resolving included. auto_decompress=False: the body is only drained, bounded.
    return aiohttp.ClientSession(connector=connector, trust_env=False, auto_decompress=False,
                                 timeout=aiohttp.ClientTimeout(total=timeout),
                                 middlewares=(literal_guard(policy),))


# A receiver's answer is read only to keep the connection reusable; past this the connection
# is dropped rather than read (a hostile receiver must not fill the notifier's memory).
MAX_RESPONSE_BYTES = 64 * 1024


async def drain(response: aiohttp.ClientResponse) -> None:
    """Read and discard the body, at most MAX_RESPONSE_BYTES; a longer one closes the
    connection instead of being read to its end."""
    if (response.content_length or 0) > MAX_RESPONSE_BYTES:
        response.close()
        return
    seen = 0
    while chunk := await response.content.read(MAX_RESPONSE_BYTES):
        seen += len(chunk)
        if seen > MAX_RESPONSE_BYTES:
            response.close()
            return
