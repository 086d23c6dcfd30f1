"""Sending lanes: at most `per_channel` sends at once to one channel, so a slow receiver holds
only its own lanes and never stalls the others. HTTP webhooks share one session (aiohttp's
pool hands out an idle connection without looking at the others, so a send costs the same at
1 or 32 connections). Apprise sends block, so they run in one bounded thread pool, and a
channel sent through it gets at most a quarter of its threads: a receiver that hangs until
the timeout leaves three quarters to everyone else. An SMTP server is given few connections
at once (servers limit them per client)."""
from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from services.notifier.channels.apprise_channel import AppriseChannel
from services.notifier.channels.base import Integration
from services.notifier.channels.egress import EgressPolicy
from services.notifier.channels.email import EmailChannel
from services.notifier.channels.thread_egress import Guard
from services.notifier.channels.webhook import WebhookChannel
from services.notifier.domain.common import ChannelKind

Integrations = dict[str, Integration]
APPRISE_KINDS = frozenset(ChannelKind) - {ChannelKind.WEBHOOK, ChannelKind.EMAIL}
SMTP_LANES = 4


@dataclass(frozen=True)
class Senders:
    """What the integrations send with (tests pass their own resolvers and trust)."""

    session: aiohttp.ClientSession
    policy: EgressPolicy
    tls_context: ssl.SSLContext
    timeout: float
    apprise_threads: int = 16
    public_url: str | None = None
    guard: Guard | None = None  # for Apprise's threads; the policy with the system resolver
    email: EmailChannel | None = None


def integrations_over(senders: Senders, pool: ThreadPoolExecutor) -> Integrations:
    """Every kind of channel."""
    guard = senders.guard or Guard(senders.policy)
    found: Integrations = {
        ChannelKind.WEBHOOK: WebhookChannel(senders.session),
        ChannelKind.EMAIL: senders.email or EmailChannel(
            senders.policy, senders.tls_context, timeout=senders.timeout,
            public_url=senders.public_url)}
    for kind in APPRISE_KINDS:
        found[kind] = AppriseChannel(kind, pool, guard, timeout=senders.timeout,
                                     public_url=senders.public_url)
    return found


class Lanes:
    def __init__(self, senders: Senders, per_channel: int) -> None:
        self.session, self.per_channel = senders.session, per_channel
        self.pool = ThreadPoolExecutor(senders.apprise_threads, thread_name_prefix="apprise")
        self.integrations = integrations_over(senders, self.pool)
        self.caps = {kind: min(per_channel, max(1, senders.apprise_threads // 4))
                     for kind in APPRISE_KINDS}
        self.caps[ChannelKind.EMAIL] = min(per_channel, SMTP_LANES)
        self._gates: dict[str, asyncio.Semaphore] = {}

    def lanes_for(self, kind: str) -> int:
        return self.caps.get(kind, self.per_channel)

    @asynccontextmanager
    async def lane(self, channel_id: str, kind: str = ChannelKind.WEBHOOK
                   ) -> AsyncIterator[Integrations]:
        """Wait for one of the channel's lanes to be free."""
        gate = self._gates.get(channel_id)
        if gate is None:
            gate = self._gates[channel_id] = asyncio.Semaphore(self.lanes_for(kind))
        async with gate:
            yield self.integrations

    async def aclose(self) -> None:
        await self.session.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
