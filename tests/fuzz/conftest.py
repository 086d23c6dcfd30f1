"""The four services running once for the whole fuzz module, on real NATS and PostgreSQL:
starting them per generated request would cost more than the requests."""
from __future__ import annotations

import os
import uuid

import pytest

from closedloop.embedded.nats_server import NatsServer
from closedloop.embedded.postgres import drop_database, ensure_database
from services.capa.main import create_app as capa_app
from services.capa.settings import CapaSettings
from services.detector.main import create_app as detector_app
from services.detector.settings import DetectorSettings
from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from services.notifier.main import create_app as notifier_app
from services.notifier.settings import NotifierSettings
from tests.harness import API_KEYS, NOTIFIER_SAFETY, RunningService

# name → (create_app, settings class, settings the service cannot start without)
SERVICES = {
    "detector": (detector_app, DetectorSettings, {}),
    "incidents": (incidents_app, IncidentsSettings, {}),
    "notifier": (notifier_app, NotifierSettings, NOTIFIER_SAFETY),
    "capa": (capa_app, CapaSettings, {}),
}


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
    common = dict(database_url=database_url, nats_url=nats_url, api_keys=API_KEYS)
    services = {name: RunningService(create(settings(**common, **required)))
                for name, (create, settings, required) in SERVICES.items()}
    for service in services.values():
        service.start()
    yield services
    for service in services.values():
        service.stop()
