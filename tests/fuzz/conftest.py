"""The four services running once for the whole fuzz module, on real NATS and PostgreSQL:
starting them per generated request would cost more than the requests."""
from __future__ import annotations

import os
import uuid

import pytest

from closedloop.embedded.nats_server import NatsServer
from closedloop.embedded.postgres import drop_database, ensure_database
from tests.harness import SERVICE_NAMES, RunningService, service_app



@pytest.fixture(scope="module")
def stack_infra(pg_server_url, tmp_path_factory):
    name = f"cl_fuzz_{uuid.uuid4().hex[:12]}"
    database_url = ensure_database(pg_server_url, name)
    nats = None
    if os.environ.get("NATS_URL"):
        nats_url = os.environ["NATS_URL"]
    else:
        nats = NatsServer(tmp_path_factory.mktemp("fuzz-nats") / "nats").start()
        nats_url = nats.url
    yield database_url, nats_url
    if nats:
        nats.stop()
    drop_database(pg_server_url, name)


@pytest.fixture(scope="module")
def running(stack_infra):
    database_url, nats_url = stack_infra
    services = {name: RunningService(service_app(name, database_url=database_url,
                                                 nats_url=nats_url))
                for name in SERVICE_NAMES}
    for service in services.values():
        service.start()
    yield services
    for service in services.values():
        service.stop()
