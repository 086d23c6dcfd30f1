"""Fixtures shared by the bus and read-model tests: the toy application and a JetStream
context with closedloop's streams."""
from __future__ import annotations

import nats
import pytest

from shared.bus.streams import ensure_streams
from tests.integration.toy import open_app


@pytest.fixture
def app(database_url):
    application = open_app(database_url)
    yield application
    application.close()


@pytest.fixture
async def js(nats_url):
    nc = await nats.connect(nats_url)
    jetstream = nc.jetstream()
    await ensure_streams(jetstream)
    yield jetstream
    await nc.close()
