"""An alert's series around the moment it fired, over real HTTP and PostgreSQL: what the
console charts next to each of an incident's alerts."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from services.detector.main import create_app
from services.detector.settings import DetectorSettings
from tests.harness import API_KEYS, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_detector_service import nps_rule

pytestmark = pytest.mark.integration


@pytest.fixture
def detector(database_url, nats_url):
    service = RunningService(create_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS))).start()
    yield service
    service.stop()


def test_the_samples_around_an_alert_come_with_the_bound_it_crossed(detector):
    metric = f"nps-{uuid.uuid4().hex[:6]}"
    day = 86400
    with detector.client() as client:
        nps_rule(client, metric)
        # Ten days of NPS, one a day: it falls under 50 on day 6 and recovers on day 8.
        values = [72, 70, 71, 69, 73, 42, 44, 68, 70, 71]
        start = 1_790_000_000
        for i, value in enumerate(values):
            r = client.post("/v1/samples", json={"samples": [
                {"metric": metric, "entity": "store-042", "value": value,
                 "ts": start + i * day}]})
            assert r.status_code == 200, r.text
        alert = wait_until(lambda: next((a for a in client.get(
            "/v1/alerts", params={"status": "all"}).json() if a["entity"] == "store-042"
            and a["name"].startswith("NPS collapse") and metric in a["summary"] + a["name"]),
            None), message="the alert")

    with detector.client(VIEWER_KEY) as viewer:  # reading it is a viewer's right
        around = viewer.get(f"/v1/alerts/{alert['fingerprint']}/samples",
                            params={"before": 3 * day, "after": 2 * day})
        assert around.status_code == 200, around.text
        body = around.json()
        # Resolved on day 8: the alert's latest value is the recovered one.
        assert body["metric"] == metric and body["status"] == "resolved"
        assert body["value"] == 68
        assert body["bounds"] == {"below": 50}
        # The three days before the fall, the fall itself and the two days after it.
        assert [p["value"] for p in body["samples"]] == [71, 69, 73, 42, 44, 68]
        times = [datetime.fromisoformat(p["at"]).timestamp() for p in body["samples"]]
        assert times == sorted(times) and times[3] == start + 5 * day

        unknown = viewer.get("/v1/alerts/no-such-fingerprint/samples")
        assert unknown.status_code == 404 and "fingerprint" in unknown.text
        too_far = viewer.get(f"/v1/alerts/{alert['fingerprint']}/samples",
                             params={"before": 400 * day})
        assert too_far.status_code == 422 and "before" in too_far.text
