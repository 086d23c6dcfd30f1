"""Recurrence over real NATS and PostgreSQL: a case closed by the window watch is reopened
when its alert returns as a new incident within the recurrence period; the loop hears
CapaRecurred and the read model shows the case back in analysis."""
from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from shared.contracts import CapaRecurred, CloudEvent, IncidentOpened
from tests.harness import API_KEYS, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_capa_effectiveness import T0, _last, publish, watched_case

pytestmark = pytest.mark.integration


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        effectiveness_windows="P0=7d", effectiveness_poll_seconds=0.2,
        capa_recurrence_period="90d"), clock=clock)).start()
    yield service
    service.stop()


def test_the_alert_returning_after_closure_reopens_the_case(capa, nats_url, clock):
    fingerprint = f"nps:{uuid.uuid4().hex[:8]}"
    ref = f"P0-2026-12-{uuid.uuid4().hex[:3]}"
    capa_id = watched_case(capa, nats_url, clock, ref, fingerprint)
    api = capa.client(RESPONDER_KEY)
    clock.advance(timedelta(days=7))
    wait_until(lambda: api.get(f"/v1/capa/{capa_id}").json()["status"] == "closed",
               message="the case closed by the window watch")

    clock.advance(timedelta(days=20))
    again = f"inc-{uuid.uuid4()}"
    publish(nats_url, IncidentOpened(
        incident_id=again, ref="P0-2027-01-001", fingerprint=fingerprint, severity="P0",
        title="NPS collapse", entity="store-042", alert_id=str(uuid.uuid4()),
        opened_at=clock.now(), respond_by=clock.now() + timedelta(minutes=15),
        resolve_by=clock.now() + timedelta(hours=4),
        labels={"alertname": "NPS collapse", "entity": "store-042"}), "incidents")

    case = wait_until(lambda: (lambda c: c if c["status"] == "open" else None)(
        api.get(f"/v1/capa/{capa_id}").json()), message="the case back in analysis")
    [recurrence] = case["recurrence"]["recurrences"]
    assert (recurrence["incident_id"], recurrence["ref"]) == (again, "P0-2027-01-001")
    assert case["closed_at"] is None
    assert any("recurred as P0-2027-01-001" in b for b in case["closure_blockers"])

    message = wait_until(lambda: asyncio.run(_last(nats_url, CapaRecurred.type_name())),
                         message="CapaRecurred on the CAPA stream")
    recurred = CapaRecurred.model_validate(CloudEvent.from_bytes(message.data).data)
    assert (recurred.capa_id, recurred.recurrence_incident_id) == (capa_id, again)
    assert recurred.after_seconds == timedelta(days=20).total_seconds()
    wait_until(lambda: api.get("/v1/capa", params={"incident_id": case["incident_id"],
                                                   "status": "open"}).json()["items"],
               message="the read model back to open")
