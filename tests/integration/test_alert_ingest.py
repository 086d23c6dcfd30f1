"""Alertmanager ingest over real HTTP, NATS and PostgreSQL, with one replica and with two on
the same store: concurrent senders of the same alerts never see an error and raise each alert
once; a replica never skips a raise because another replica changed the alert; a restarted
replica knows which alerts fire."""
from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter

import asyncpg
import pytest

from services.detector.alert_ingest import CONFLICT_ATTEMPTS, ingest_of
from services.detector.domain import Alert, alert_id_for
from services.detector.firing import from_alert_board
from services.detector.main import create_app
from services.detector.projections import DetectorBoard
from services.detector.settings import DetectorSettings
from shared.readmodels import read_path
from shared.service import asyncpg_dsn
from shared.store import IntegrityError
from tests.harness import API_KEYS, INGEST_KEY, RunningService, wait_until

pytestmark = pytest.mark.integration
ROUTE = "/v1/ingest/alertmanager"


@pytest.fixture
def replicas(database_url, nats_url):
    """Start detector replicas on one store, on demand; all stopped at the end."""
    started: list[RunningService] = []

    def start(count: int = 1) -> list[RunningService]:
        new = [RunningService(create_app(DetectorSettings(
            database_url=database_url, nats_url=nats_url, api_keys=API_KEYS))).start()
            for _ in range(count)]
        started.extend(new)
        return new

    yield start
    for service in started:
        service.stop()


def alerts(count: int, status: str = "firing") -> list[dict]:
    run = uuid.uuid4().hex[:8]
    return [{"status": status, "fingerprint": f"{run}-{i:04d}", "startsAt": "2026-11-21T10:00:00Z",
             "labels": {"alertname": "StoreDown", "instance": f"store-{i:03d}", "severity": "critical"},
             "annotations": {"summary": f"store {i} is down"}} for i in range(count)]


def webhook(batch: list[dict], status: str = "firing") -> dict:
    return {"version": "4", "status": status, "receiver": "closedloop",
            "alerts": [{**a, "status": status} for a in batch]}


def raises_stored(service: RunningService, batch: list[dict]) -> Counter:
    """How many AlertRaised events the store holds for each alert of the batch."""
    app = service.runtime.application
    return Counter({a["fingerprint"]: sum(isinstance(e, Alert.Raised) for e in
                                          app.stored_events(alert_id_for(a["fingerprint"])))
                    for a in batch})


@pytest.mark.parametrize("replica_count", [1, 2])
def test_four_senders_of_the_same_64_alerts_raise_each_once(replicas, replica_count):
    services = replicas(replica_count)
    batch = alerts(64)
    answers: list[tuple[int, dict]] = []
    ready = threading.Barrier(4)

    def send(service: RunningService) -> None:
        with service.client(INGEST_KEY) as client:
            ready.wait()  # all four at the same moment: their saves collide
            response = client.post(ROUTE, json=webhook(batch))
            answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=send, args=(services[n % replica_count],)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [status for status, _ in answers] == [200] * 4, answers  # no 409, no 503
    assert sum(answer["raised"] for _, answer in answers) == 64
    assert raises_stored(services[0], batch) == Counter({a["fingerprint"]: 1 for a in batch})


def test_a_replica_raises_again_an_alert_another_replica_resolved(replicas):
    a, b = replicas(2)
    batch = alerts(3)
    with a.client(INGEST_KEY) as to_a, b.client(INGEST_KEY) as to_b:
        assert to_a.post(ROUTE, json=webhook(batch)).json()["raised"] == 3
        assert to_a.post(ROUTE, json=webhook(batch)).json()["raised"] == 0  # a re-send
        # A holds the three as firing; B resolves one of them a moment later.
        assert to_b.post(ROUTE, json=webhook(batch[:1], "resolved")).json()["resolved"] == 1
        # It fires again and the re-send reaches A: A must not take it for a re-send.
        again = to_a.post(ROUTE, json=webhook(batch)).json()
    assert (again["raised"], again["resolved"]) == (1, 0)
    assert raises_stored(a, batch)[batch[0]["fingerprint"]] == 2


def test_a_restarted_replica_knows_which_alerts_fire(replicas):
    (first,) = replicas()
    batch = alerts(5)
    with first.client(INGEST_KEY) as client:
        client.post(ROUTE, json=webhook(batch)).raise_for_status()
        client.post(ROUTE, json=webhook(batch[:2], "resolved")).raise_for_status()
    first.stop()

    (restarted,) = replicas()
    with restarted.client(INGEST_KEY) as client:
        resent = client.post(ROUTE, json=webhook(batch)).json()
    # The two resolved ones fire again; the three still firing are re-sends and store nothing.
    assert (resent["raised"], resent["resolved"]) == (2, 0)
    assert raises_stored(restarted, batch) == Counter(
        {a["fingerprint"]: 2 if i < 2 else 1 for i, a in enumerate(batch)})


def test_a_conflict_is_decided_again_on_fresh_state(replicas):
    a, b = replicas(2)
    ingest = ingest_of(a.runtime)
    batch = alerts(4)
    with a.client(INGEST_KEY) as to_a, b.client(INGEST_KEY) as to_b:
        to_a.post(ROUTE, json=webhook(batch[:1])).raise_for_status()
        to_b.post(ROUTE, json=webhook(batch)).raise_for_status()  # B raises the other three
        # A does not learn it in time: its first two catch-ups (the request's and its first
        # attempt's) come too early, so its first save collides with B's.
        catch_up, calls = ingest.firing.catch_up, []

        async def late_twice(pool, since):
            calls.append(since)
            if len(calls) > 2:
                await catch_up(pool, since)

        ingest.firing.catch_up = late_twice
        response = to_a.post(ROUTE, json=webhook(batch))
    assert response.status_code == 200, response.text
    assert response.json()["raised"] == 0  # the second attempt saw B's raises
    assert len(calls) == 3
    assert raises_stored(a, batch) == Counter({a["fingerprint"]: 1 for a in batch})


def test_conflicts_through_every_attempt_are_a_503_to_retry(replicas, monkeypatch):
    (service,) = replicas()
    attempts = []

    def always_conflicting(*args, **kwargs):  # as if other replicas kept writing these alerts
        attempts.append(1)
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(service.runtime.application, "receive_external", always_conflicting)
    with service.client(INGEST_KEY) as client:
        response = client.post(ROUTE, json=webhook(alerts(2)))
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert "send them again" in response.json()["detail"]
    assert len(attempts) == CONFLICT_ATTEMPTS


def test_the_firing_set_starts_from_the_alert_board(replicas, database_url):
    (service,) = replicas()
    batch = alerts(3)
    with service.client(INGEST_KEY) as client:
        client.post(ROUTE, json=webhook(batch)).raise_for_status()
        client.post(ROUTE, json=webhook(batch[:1], "resolved")).raise_for_status()
    with service.client() as viewer:
        wait_until(lambda: len(viewer.get("/v1/alerts").json()) == 2, message="board caught up")
    head = service.runtime.application.recorder.max_notification_id()
    schema = service.runtime.settings.schema_name

    async def load():
        conn = await asyncpg.connect(asyncpg_dsn(database_url), server_settings={
            "search_path": read_path(schema, [DetectorBoard()])})
        try:
            return await from_alert_board(conn)
        finally:
            await conn.close()

    firing, position = asyncio.run(load())
    assert position == head
    assert firing == {alert_id_for(a["fingerprint"]): i > 0 for i, a in enumerate(batch)}
