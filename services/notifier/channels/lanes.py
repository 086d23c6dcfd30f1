"""Sending lanes: at most `per_channel` sends at once to one channel, each lane with an HTTP
client of its own holding one kept-alive connection. One shared pool would do the same job,
but httpcore's pool looks at every connection it holds on every request (a poll syscall per
idle one): at 32 connections a send cost ~3 ms of CPU, against ~0.6 ms one lane each."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from services.notifier.channels.base import Integration
from services.notifier.channels.webhook import WebhookChannel
from services.notifier.domain.common import ChannelKind

Integrations = dict[str, Integration]


def integrations_over(client: httpx.AsyncClient) -> Integrations:
    """Every kind of channel, sending through this client."""
    return {ChannelKind.WEBHOOK: WebhookChannel(client)}


@dataclass
class _Channel:
    idle: asyncio.Queue = field(default_factory=asyncio.Queue)
    opened: int = 0


class Lanes:
    def __init__(self, open_client: Callable[[], httpx.AsyncClient], per_channel: int) -> None:
        self.open_client, self.per_channel = open_client, per_channel
        self._channels: dict[str, _Channel] = {}
        self._clients: list[httpx.AsyncClient] = []

    @asynccontextmanager
    async def lane(self, channel_id: str) -> AsyncIterator[Integrations]:
        """Wait for a free lane to the channel (opening one while fewer than allowed exist)."""
        channel = self._channels.setdefault(channel_id, _Channel())
        if channel.idle.empty() and channel.opened < self.per_channel:
            channel.opened += 1
            client = self.open_client()
            self._clients.append(client)
            integrations = integrations_over(client)
        else:
            integrations = await channel.idle.get()
        try:
            yield integrations
        finally:
            channel.idle.put_nowait(integrations)

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clients), return_exceptions=True)
