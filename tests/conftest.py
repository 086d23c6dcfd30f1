"""Real infrastructure for tests: PostgreSQL from DATABASE_URL or an embedded server, and a
fresh nats-server with JetStream per test (or NATS_URL, with its closedloop streams wiped).
`nats_url` is an open server; `secured_nats` has a user per service, as `closedloop up` does."""
from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest

from shared.bus.streams import stream_configs
from shared.settings import NatsSettings
from closedloop import nats_users
from closedloop.embedded.nats_server import NatsServer
from closedloop.streams import provision_streams
from closedloop.embedded.postgres import EmbeddedPostgres, drop_database, ensure_database


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory):
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    # Not under pytest's tmp dirs: pytest prunes old ones while another session may use them.
    home = Path(tempfile.mkdtemp(prefix="closedloop-pg-"))
    try:
        server = EmbeddedPostgres(home / "data").start()
    except Exception as embedded_error:  # last resort: a container, where an engine answers
        yield from _postgres_container(embedded_error)
        return
    yield server.server_url
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


def _postgres_container(embedded_error: Exception):
    from testcontainers.postgres import PostgresContainer

    try:
        container = PostgresContainer("postgres:16", driver=None).start()
    except Exception as container_error:
        raise RuntimeError(
            f"no PostgreSQL for the tests: set DATABASE_URL. The embedded server failed "
            f"({embedded_error}) and no container engine answered ({container_error}).") from None
    yield container.get_connection_url()
    container.stop()


@pytest.fixture
def database_url(pg_server_url):
    """A database of its own for each test, dropped afterwards."""
    name = f"cl_test_{uuid.uuid4().hex[:12]}"
    url = ensure_database(pg_server_url, name)
    yield url
    drop_database(pg_server_url, name)


async def _wipe_streams(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for config in stream_configs():
        try:
            await js.delete_stream(config.name)
        except Exception:
            pass
    await nc.close()


@pytest.fixture
def nats_url(tmp_path):
    if os.environ.get("NATS_URL"):
        asyncio.run(_wipe_streams(os.environ["NATS_URL"]))
        yield os.environ["NATS_URL"]
        return
    server = NatsServer(tmp_path / "nats").start()
    yield server.url
    server.stop()


@pytest.fixture
def nats_server(tmp_path):
    """A nats-server the test controls (to stop and restart it)."""
    server = NatsServer(tmp_path / "nats").start()
    yield server
    server.stop()


@dataclass
class SecuredNats:
    server: NatsServer
    passwords: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def settings(self, user: str, **tls: str) -> NatsSettings:
        return NatsSettings(nats_url=self.url, nats_user=user, nats_password=self.passwords[user],
                            **tls)


@pytest.fixture
def secured_nats(tmp_path):
    """A nats-server with closedloop's users and permissions, streams made by the admin."""
    passwords = nats_users.passwords(tmp_path / "home")
    server = NatsServer(tmp_path / "nats",
                        authorization=nats_users.with_hashes(passwords)).start()
    secured = SecuredNats(server, passwords)
    asyncio.run(provision_streams(secured.settings(nats_users.ADMIN)))
    yield secured
    server.stop()
