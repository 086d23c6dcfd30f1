"""Two detector replicas on one database: one evaluates, the other stands by, serves reads,
stores rule changes the evaluating one picks up, and takes over when it goes."""
from __future__ import annotations

import uuid

import pytest

from services.detector.main import create_app
from services.detector.settings import DetectorSettings
from services.detector.workers import evaluator_of
from tests.harness import API_KEYS, RunningService, wait_until
from tests.integration.test_detector_service import nps_rule

pytestmark = pytest.mark.integration


@pytest.fixture
def replicas(database_url, nats_url):
    services = [RunningService(create_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, tick_seconds=0.2))).start()
        for _ in range(2)]
    yield services
    for service in services:
        service.stop()


def evaluating(service: RunningService) -> bool:
    return evaluator_of(service.runtime).evaluating


def sample(metric: str, value: float) -> dict:
    return {"samples": [{"metric": metric, "entity": "store-7", "value": value}]}


def test_one_replica_evaluates_and_the_standby_takes_over(replicas):
    metric = f"nps-{uuid.uuid4().hex[:6]}"
    wait_until(lambda: any(map(evaluating, replicas)), 15, "one replica evaluating")
    holder, standby = sorted(replicas, key=evaluating, reverse=True)
    assert not evaluating(standby)

    with standby.client() as client:
        nps_rule(client, metric)  # stored by the standby; the evaluating replica rebuilds
        refused = client.post("/v1/samples", json=sample(metric, 40))
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert "standing by" in refused.json()["detail"]

    with holder.client() as client:
        wait_until(lambda: client.post("/v1/samples", json=sample(metric, 40)).json().get("raised"),
                   message="the holder evaluates the rule the standby stored")
    with standby.client() as client:  # reads are served by every replica
        firing = wait_until(lambda: client.get("/v1/alerts").json(), message="alert on the board")
        assert [a["entity"] for a in firing] == ["store-7"]

    holder.stop()
    wait_until(lambda: evaluating(standby), 20, "the standby took over")
    with standby.client() as client:
        # Its state was rebuilt from the stored samples: the series' latest is known...
        late = client.post("/v1/samples", json={"samples": [
            {"metric": metric, "entity": "store-7", "value": 30, "ts": 1_000_000_000}]}).json()
        assert late["accepted"] == 0 and late["rejected"]
        # ...and so is the firing alert, which a recovery resolves.
        assert client.post("/v1/samples", json=sample(metric, 80)).json()["resolved"] == 1
        wait_until(lambda: client.get("/v1/alerts").json() == [], message="alert resolved")
