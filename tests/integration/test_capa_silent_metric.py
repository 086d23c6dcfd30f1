"""A metric that cannot be observed blocks closure, over real NATS and PostgreSQL with the
detector and capa on one injected clock: a P0's fix is watched, the store stops sending
samples, the detector publishes MetricSilent, the window's end passes and the case stays open
with the reason; samples resume (MetricResumed), the window, lengthened by the silent time,
passes clear and the case closes. The detector restarts during the silence and publishes it
once all the same."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import nats
import pytest

from services.capa.main import create_app as capa_app
from services.capa.settings import CapaSettings
from services.detector.main import create_app as detector_app
from services.detector.settings import DetectorSettings
from shared.clock import ManualClock
from shared.contracts import (
    CapaEffectivenessExtended, CapaEffectivenessHeldOpen, CloudEvent, MetricResumed,
    MetricSilent,
)
from tests.harness import API_KEYS, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_capa_effectiveness import watched_case

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
T0 = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(capa_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        effectiveness_windows="P0=2d,P1=2d,P2=1d,P3=1d", effectiveness_poll_seconds=0.2),
        clock=clock)).start()
    yield service
    service.stop()


@pytest.fixture
def detector(database_url, nats_url, clock):
    service = RunningService(detector_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, tick_seconds=0.2),
        clock=clock)).start()
    yield service
    service.stop()


def ok(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def test_a_silent_store_holds_the_window_open_until_it_is_observed_for_its_full_length(
        detector, capa, database_url, nats_url, clock):
    metric = f"store.nps.{uuid.uuid4().hex[:6]}"
    client = detector.client()
    running = [detector]

    def send(value: float, at: datetime) -> None:
        ok(running[-1].client().post("/v1/samples", json={"samples": [
            {"metric": metric, "entity": "store-042", "ts": at.timestamp(), "value": value}]}))

    ok(client.put("/v1/metrics/catalogue", json=[{"name": metric, "interval": "1h"}]))
    rule = ok(client.post("/v1/rules", json={"name": f"NPS collapse {metric}", "metric": metric,
                                             "severity": "P0", "when": {"value": {},
                                                                        "below": 50}}))
    for hours, value in ((-3, 70), (-2, 40), (-1, 40), (0, 70)):
        send(value, T0 + hours * HOUR)
    alert = wait_until(lambda: next((a for a in client.get(
        "/v1/alerts", params={"status": "resolved"}).json() if a["rule_id"] == rule["id"]), None),
                       message="the alert raised and resolved")

    # The P0's fix is verified at T0: its 2-day window runs, and the store keeps sending.
    ref = f"P0-2026-12-{uuid.uuid4().hex[:3]}"
    capa_id = watched_case(capa, nats_url, clock, ref, alert["fingerprint"],
                           interval_seconds=3600)
    for _ in range(6):
        clock.advance(HOUR)
        send(70, clock.now())
    last_sample = clock.now()  # T0 + 6h; then nothing

    api = capa.client(RESPONDER_KEY)

    def case(test) -> Any:
        return wait_until(lambda: (lambda c: c if test(c) else None)(
            api.get(f"/v1/capa/{capa_id}").json()), message="the case")

    clock.advance(4 * HOUR)  # more than three of the rule's intervals without a sample
    silent = case(lambda c: c["effectiveness"]["silence"])
    assert silent["closure_blockers"][1] == (
        f"the effectiveness window of {ref} cannot pass unobserved: store-042 has sent no "
        f"samples of {metric} since {last_sample:%Y-%m-%d %H:%M} UTC; once samples arrive "
        "the window is lengthened by the silent time")

    clock.advance(T0 + timedelta(days=2, hours=1) - clock.now())  # past the window's end
    held = case(lambda c: c["effectiveness"]["held_open"])
    assert held["status"] == "effectiveness"
    assert held["effectiveness"]["held_open"] == (
        f"the effectiveness window of {ref} cannot pass unobserved: store-042 sent no samples "
        f"of {metric} for 1 day of the 2-day window")
    assert held["closure_blockers"][1] == held["effectiveness"]["held_open"]

    # The detector restarts while the store is silent: it knows the silence it published.
    detector.stop()
    running.append(RunningService(detector_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, tick_seconds=0.2),
        clock=clock)).start())

    # Samples again at T0 + 49h: 43 hours went unobserved inside the window, which now
    # ends 43 hours after its planned end.
    send(70, clock.now())
    resumed = case(lambda c: c["effectiveness"]["silence"] is None)
    ends_at = T0 + timedelta(hours=48 + 43)
    assert datetime.fromisoformat(resumed["effectiveness"]["ends_at"]) == ends_at
    assert resumed["effectiveness"]["unobserved_seconds"] == 43 * 3600
    assert resumed["status"] == "effectiveness"

    while clock.now() < ends_at:  # observed every two hours until the lengthened end
        clock.advance(min(2 * HOUR, ends_at - clock.now()))
        send(70, clock.now())
    closed = case(lambda c: c["status"] == "closed")
    assert datetime.fromisoformat(closed["closed_at"]) >= ends_at
    events = [h["event"] for h in closed["history"]]
    assert events[events.index("EffectivenessWindowStarted"):] == [
        "EffectivenessWindowStarted", "MetricWentSilent", "EffectivenessHeldOpen",
        "MetricResumed", "Closed"]
    running[-1].stop()
    # One silence, published once across the restart, and its end once.
    once = {MetricSilent.type_name(): 1, MetricResumed.type_name(): 1}
    wait_until(lambda: asyncio.run(published(
        nats_url, "DETECTOR", (MetricSilent, MetricResumed), "fingerprint",
        alert["fingerprint"])) == once, message="one MetricSilent and one MetricResumed")
    # The incidents service hears why the case did not close, and its new end.
    told = {CapaEffectivenessHeldOpen.type_name(): 1, CapaEffectivenessExtended.type_name(): 1}
    wait_until(lambda: asyncio.run(published(
        nats_url, "CAPA", (CapaEffectivenessHeldOpen, CapaEffectivenessExtended), "capa_id",
        capa_id)) == told, message="the held window and its new end on the CAPA stream")


async def published(nats_url: str, stream: str, contracts: tuple, key: str,
                    value: str) -> dict[str, int]:
    """How often the stream carries each contract whose `key` is `value`."""
    nc = await nats.connect(nats_url)
    counts: dict[str, int] = {}
    try:
        js = nc.jetstream()
        for contract in contracts:
            sub = await js.pull_subscribe(contract.type_name(), stream=stream)
            try:
                while True:
                    for message in await sub.fetch(100, timeout=1):
                        data = CloudEvent.from_bytes(message.data).data
                        if data[key] == value:
                            counts[contract.type_name()] = counts.get(contract.type_name(), 0) + 1
            except (nats.errors.TimeoutError, TimeoutError):  # the stream has no more
                pass
            await sub.unsubscribe()
    finally:
        await nc.close()
    return counts
