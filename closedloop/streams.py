"""`closedloop streams`: create or update the streams as the admin NATS user. Service users
may only read stream info, so `closedloop up`, a compose job or a Kubernetes Job does this."""
from __future__ import annotations

import nats

from shared.bus.connection import connect_options
from shared.bus.streams import ensure_streams, stream_configs
from shared.settings import NatsSettings


async def provision_streams(settings: NatsSettings) -> list[str]:
    nc = await nats.connect(**connect_options(settings))
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await nc.close()
    return [config.name for config in stream_configs()]
