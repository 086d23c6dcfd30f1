"""Predictive alerts over real HTTP, NATS and PostgreSQL: a store's NPS drifting down is
warned about before it goes under 55, and the AlertRaised says when and how sure."""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import pytest

from services.detector.main import create_app
from services.detector.settings import DetectorSettings
from tests.harness import API_KEYS, RunningService, wait_until
from tests.integration.test_detector_service import published
from tests.unit.test_predictive_alerts import nps_series

pytestmark = pytest.mark.integration
HOUR, DAY = 3600.0, 86400.0
T0 = (time.time() // DAY - 12) * DAY  # midnight twelve days ago


@pytest.fixture
def detector(database_url, nats_url):
    service = RunningService(create_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS))).start()
    yield service
    service.stop()


def test_a_declining_nps_raises_an_early_warning_with_the_predicted_crossing(detector, nats_url):
    metric, store = f"store.nps.{uuid.uuid4().hex[:6]}", "深圳宝安店"
    values = nps_series(10 * 24, slope_per_day=-2.5)
    with detector.client() as client:
        client.put("/v1/metrics/catalogue", json=[
            {"name": metric, "interval": "1h", "retention": "60d"}]).raise_for_status()
        r = client.post("/v1/rules", json={
            "name": f"NPS heading under 55 {metric}", "metric": metric, "severity": "P2",
            "when": {"predict": {"horizon": "2d", "season": "1d"}, "below": 55},
            "clear_after": "6h"})
        assert r.status_code == 201, r.text
        rule = r.json()
        raised = 0
        for day in range(10):  # a day of hourly samples per request
            hours = range(day * 24, day * 24 + 24)
            r = client.post("/v1/samples", json={"series": [{
                "metric": metric, "entity": store, "labels": {"region": "south"},
                "ts": [T0 + h * HOUR for h in hours],
                "values": [float(values[h]) for h in hours]}]})
            assert r.status_code == 200, r.text
            raised += r.json()["raised"]
        assert raised >= 1
        # The same history replayed: how long before the real crossing it warned.
        r = client.post(f"/v1/rules/{rule['id']}/backtest", json={
            "start": datetime.fromtimestamp(T0, timezone.utc).isoformat(),
            "end": datetime.fromtimestamp(T0 + 10 * DAY, timezone.utc).isoformat()})
        assert r.status_code == 200, r.text
        (report,) = r.json()["predictions"]
        assert report["path"] == "when.predict" and report["warnings"] == raised
        assert report["true_warnings"] >= 1 and report["crossings_warned"] == 1
        assert 0 < report["lead_time"]["median"] <= 2 * DAY
    went_under = T0 + HOUR * int((values < 55).argmax())  # the real crossing, hour 231

    def warning():
        found = [e for e in published(nats_url, "DETECTOR", 500)
                 if e.type == "closedloop.detector.alert.raised.v1" and e.data["metric"] == metric]
        return found[0] if found else None

    event = wait_until(warning, message="AlertRaised published")
    data = event.data
    started = datetime.fromisoformat(data["started_at"]).timestamp()
    crossing = datetime.fromisoformat(data["predicted_crossing_at"]).timestamp()
    assert data["entity"] == store and T0 + 4 * DAY <= started < went_under - 6 * HOUR
    assert started < crossing <= started + 2 * DAY
    assert 0.5 <= data["confidence"] <= 1
    assert "at this rate it goes below 55 in about" in data["summary"]


def test_a_horizon_shorter_than_the_interval_is_refused_naming_the_field(detector):
    metric = f"store.nps.{uuid.uuid4().hex[:6]}"
    with detector.client() as client:
        client.put("/v1/metrics/catalogue", json=[{"name": metric, "interval": "1d"}])
        r = client.post("/v1/rules", json={
            "name": f"too short {metric}", "metric": metric, "severity": "P2",
            "when": {"predict": {"horizon": "12h"}, "below": 55}})
        assert r.status_code == 422, r.text
        assert "when.predict.horizon" in r.text and "shorter than the interval 1d" in r.text
