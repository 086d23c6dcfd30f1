"""Sending lanes: at most `per_channel` sends at once to one channel, all over one shared
HTTP session (aiohttp's pool hands out an idle connection without looking at the others, so
a send costs the same at 1 or 32 connections; httpcore's pool polled every connection it held
on every request, which is why lanes used to be clients of one connection each)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from services.notifier.channels.base import Integration
from services.notifier.channels.webhook import WebhookChannel
from services.notifier.domain.common import ChannelKind

Integrations = dict[str, Integration]


def integrations_over(session: aiohttp.ClientSession) -> Integrations:
    """Every kind of channel, sending through this session."""
    return {ChannelKind.WEBHOOK: WebhookChannel(session)}


class Lanes:
    def __init__(self, session: aiohttp.ClientSession, per_channel: int) -> None:
        self.session, self.per_channel = session, per_channel
        self.integrations = integrations_over(session)
        self._gates: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def lane(self, channel_id: str) -> AsyncIterator[Integrations]:
        """Wait for one of the channel's lanes to be free."""
        gate = self._gates.setdefault(channel_id, asyncio.Semaphore(self.per_channel))
        async with gate:
            yield self.integrations

    async def aclose(self) -> None:
        await self.session.close()
