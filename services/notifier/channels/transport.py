"""The HTTP client channels send with: its connection layer resolves each host itself,
checks every address against the egress policy and connects to a checked address, so DNS
cannot answer one address to the check and another to the connect (rebinding). TLS still
verifies the URL's host name (SNI and certificate), and the Host header is the URL's."""
from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from services.notifier.channels.egress import EgressPolicy


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: EgressPolicy,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        addresses = await resolve(host, port, timeout)
        self.policy.check_resolved(host, addresses)
        error: Exception | None = None
        for address in addresses:  # the checked addresses, never the name again
            try:
                return await self.inner.connect_tcp(address, port, timeout=timeout,
                                                    local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as failed:
                error = failed
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("channels never connect to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


async def resolve(host: str, port: int, timeout: float | None) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout)
    except asyncio.TimeoutError:
        raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
    except socket.gaierror as error:
        raise httpcore.ConnectError(f"cannot resolve {host}: {error.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with the guarded backend under its connection pool. httpx has
    no public hook for the network backend, so the pool it built is replaced by one built
    the same way; the constructor fails loudly if a future httpx changes that shape."""

    def __init__(self, policy: EgressPolicy, connections: int = 100,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        # Building a TLS context loads the CA bundle (~10 ms): clients opened together share one.
        ssl_context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=ssl_context)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx.AsyncHTTPTransport no longer keeps its pool in _pool; "
                               "the notifier's egress guard needs updating")
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, max_connections=connections,
            max_keepalive_connections=connections, keepalive_expiry=httpx.Limits(
                max_connections=connections).keepalive_expiry,
            network_backend=GuardedBackend(policy))


def guarded_client(policy: EgressPolicy, timeout: float, connections: int = 100,
                   ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    # trust_env=False: an HTTP(S)_PROXY from the environment would move the connect to the
    # proxy, out of the guard's sight. Redirects are not followed: a 3xx is a final answer.
    return httpx.AsyncClient(transport=GuardedTransport(policy, connections, ssl_context),
                             timeout=timeout, trust_env=False, follow_redirects=False)
