"""The effectiveness window over real NATS and PostgreSQL: the detector's AlertRaised for the
incident's alert, inside the window, sends the case back to analysis and the loop hears why;
a window that ends clear is closed by the window watch on the injected clock."""
from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import nats
import pytest

from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from shared.contracts import AlertRaised, CapaEffectivenessFailed, CloudEvent, IncidentResolved
from tests.harness import API_KEYS, PERSON_KEYS, RESPONDER_KEY, RunningService, wait_until

pytestmark = pytest.mark.integration

T0 = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        effectiveness_windows="P0=7d,P1=5d,P2=3d,P3=3d", effectiveness_poll_seconds=0.2),
        clock=clock)).start()
    yield service
    service.stop()


def publish(nats_url: str, contract: Any, producer: str) -> None:
    envelope = CloudEvent(id=f"{producer}:{uuid.uuid4()}", source=f"closedloop/{producer}",
                          type=contract.type_name(), time=datetime.now(timezone.utc),
                          data=contract.model_dump(mode="json"))

    async def send():
        nc = await nats.connect(nats_url)
        try:
            await nc.jetstream().publish(contract.type_name(), envelope.to_bytes(),
                                         headers={"Nats-Msg-Id": envelope.id})
        finally:
            await nc.close()

    asyncio.run(send())


async def _last(nats_url: str, subject: str) -> Any:
    nc = await nats.connect(nats_url)
    try:
        return await nc.jetstream().get_last_msg("CAPA", subject)
    except nats.js.errors.NotFoundError:
        return None
    finally:
        await nc.close()


def watched_case(capa, nats_url: str, clock: ManualClock, ref: str, fingerprint: str,
                 interval_seconds: float | None = None) -> str:
    """A resolved P0 from an alert, analysed, acted on and verified: its window runs."""
    incident_id = f"inc-{uuid.uuid4()}"
    publish(nats_url, IncidentResolved(
        incident_id=incident_id, ref=ref, severity="P0", title="NPS collapse",
        entity="store-042", by="Li Wei", summary="queue re-staffed", at=clock.now(),
        fingerprint=fingerprint, interval_seconds=interval_seconds), "incidents")
    api = capa.client(RESPONDER_KEY)
    capa_id = wait_until(lambda: next(iter(api.get("/v1/capa", params={
        "incident_id": incident_id}).json()["items"]), None), message="the case")["id"]
    api.post(f"/v1/capa/{capa_id}/root-cause", json={
        "by": "Zhang Min", "method": "5whys", "statement": "rota ignores the forecast",
        "whys": ["two tills unstaffed"]}).raise_for_status()
    api.post(f"/v1/capa/{capa_id}/actions", json={
        "by": "Zhang Min", "kind": "corrective", "title": "re-plan the rota", "owner": "alice",
        "due_date": date.today().isoformat(), "acceptance_criteria": "tills staffed at peak",
        "adverse_implications": "overtime above budget"}).raise_for_status()
    api.post(f"/v1/capa/{capa_id}/actions/A-1/complete",
             json={"by": "alice", "evidence": "rota v7"}).raise_for_status()
    bob = capa.client(PERSON_KEYS["bob"])
    refused = bob.post(f"/v1/capa/{capa_id}/actions/A-1/verify",
                       json={"verifier": "bob", "effective": True})
    assert refused.status_code == 422 and "adverse_check" in refused.text
    verified = bob.post(f"/v1/capa/{capa_id}/actions/A-1/verify", json={
        "verifier": "bob", "effective": True, "adverse_check": "payroll within budget"})
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "effectiveness"
    return capa_id


def test_the_alert_firing_again_inside_the_window_sends_the_case_back_to_analysis(
        capa, nats_url, clock):
    fingerprint = f"nps:{uuid.uuid4().hex[:8]}"
    ref = f"P0-2026-12-{uuid.uuid4().hex[:3]}"
    capa_id = watched_case(capa, nats_url, clock, ref, fingerprint)

    clock.advance(timedelta(days=2, hours=2))
    publish(nats_url, AlertRaised(
        alert_id=str(uuid.uuid4()), fingerprint=fingerprint, source="rule", rule_id="nps",
        name="NPS collapse", metric="nps", entity="store-042", severity="P0", value=40,
        threshold=50, started_at=clock.now()), "detector")

    api = capa.client(RESPONDER_KEY)
    case = wait_until(lambda: (lambda c: c if c["status"] == "open" else None)(
        api.get(f"/v1/capa/{capa_id}").json()), message="the case back in analysis")
    reason = (f"{ref} cannot close: alert 'NPS collapse' on store-042 fired 2 days into the "
              "7-day window")
    assert case["effectiveness"]["failures"][0]["reason"] == reason
    assert case["effectiveness"]["failures"][0]["day"] == 3
    message = wait_until(lambda: asyncio.run(_last(nats_url, CapaEffectivenessFailed.type_name())),
                         message="CapaEffectivenessFailed on the CAPA stream")
    failed = CapaEffectivenessFailed.model_validate(CloudEvent.from_bytes(message.data).data)
    assert (failed.capa_id, failed.reason) == (capa_id, reason)
    wait_until(lambda: api.get("/v1/capa", params={"incident_id": case["incident_id"],
                                                   "status": "open"}).json()["items"],
               message="the read model back to open")


def test_the_window_watch_closes_a_case_whose_window_ended_clear(capa, nats_url, clock):
    capa_id = watched_case(capa, nats_url, clock, f"P0-2026-12-{uuid.uuid4().hex[:3]}",
                           f"nps:{uuid.uuid4().hex[:8]}")
    api = capa.client(RESPONDER_KEY)
    clock.advance(timedelta(days=7))
    case = wait_until(lambda: (lambda c: c if c["status"] == "closed" else None)(
        api.get(f"/v1/capa/{capa_id}").json()), message="the case closed by the window watch")
    assert case["closed_at"] is not None
    assert [h["event"] for h in case["history"]][-2:] == ["EffectivenessWindowStarted", "Closed"]


def test_a_rule_evaluated_every_5_days_gets_a_10_day_window_and_the_watch_keeps_to_it(
        capa, nats_url, clock):
    capa_id = watched_case(capa, nats_url, clock, f"P0-2026-12-{uuid.uuid4().hex[:3]}",
                           f"nps:{uuid.uuid4().hex[:8]}", interval_seconds=5 * 86400)
    api = capa.client(RESPONDER_KEY)
    watched = api.get(f"/v1/capa/{capa_id}").json()["effectiveness"]
    assert watched["window_seconds"] == 10 * 86400
    assert watched["window_reason"] == ("lengthened from 7 days to 10 days: the alert's rule "
                                        "evaluates every 5 days, and the window must hold two "
                                        "evaluations")
    assert (datetime.fromisoformat(watched["ends_at"])
            - datetime.fromisoformat(watched["started_at"])) == timedelta(days=10)
    # The watch reads the end from the read model: a row whose end is 10 days out is due then.
    clock.advance(timedelta(days=10))
    case = wait_until(lambda: (lambda c: c if c["status"] == "closed" else None)(
        api.get(f"/v1/capa/{capa_id}").json()), message="the case closed after 10 days")
    assert datetime.fromisoformat(case["closed_at"]) == T0 + timedelta(days=10)
