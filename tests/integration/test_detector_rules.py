"""Rules over real HTTP, NATS and PostgreSQL: refusals that say why, versions, samples out of
order, a restart that keeps state, the alert budget, backtests and rule health."""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timezone

import nats
import pytest

from services.detector.main import create_app
from services.detector.settings import DetectorSettings
from shared.contracts import CloudEvent, IncidentResolved
from tests.harness import API_KEYS, ADMIN_KEY, RunningService, wait_until

pytestmark = pytest.mark.integration
DAY = 86400.0
T0 = (time.time() // DAY - 10) * DAY  # midnight ten days ago: recent enough for rule health


def start(database_url: str, nats_url: str) -> RunningService:
    return RunningService(create_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, tick_seconds=0.2))).start()


@pytest.fixture
def detector(database_url, nats_url):
    service = start(database_url, nats_url)
    yield service
    service.stop()


def declare(client, metric: str, **fields) -> None:
    r = client.put("/v1/metrics/catalogue", json=[{"name": metric, "interval": "1d", **fields}])
    assert r.status_code == 200, r.text


def define(client, **rule) -> dict:
    r = client.post("/v1/rules", json=rule)
    assert r.status_code == 201, r.text
    return r.json()


def daily(client, metric: str, entity: str, values: list[float], first_day: int = 0,
          labels: dict | None = None) -> dict:
    r = client.post("/v1/samples", json={"series": [{
        "metric": metric, "entity": entity, "labels": labels or {},
        "ts": [T0 + (first_day + i) * DAY for i in range(len(values))], "values": values}]})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_rule_on_an_unknown_metric_is_refused_with_the_closest_names(detector):
    with detector.client() as client:
        declare(client, "store.orders.daily")
        r = client.post("/v1/rules", json={"name": "typo", "metric": "store.ordrs.daily",
                                           "when": {"value": {}, "below": 50}, "severity": "P2"})
        assert r.status_code == 422
        assert "unknown metric 'store.ordrs.daily'" in r.text and "store.orders.daily" in r.text


def test_a_rule_needing_more_history_than_the_metric_keeps_is_refused(detector):
    with detector.client() as client:
        declare(client, "store.sales.daily", retention="35d")
        r = client.post("/v1/rules", json={
            "name": "yoy", "metric": "store.sales.daily", "severity": "P2",
            "when": {"change": {"reference": "year", "unit": "pct"}, "below": -20}})
        assert r.status_code == 422 and "retention" in r.text, r.text


def test_contradictory_bounds_and_cycles_are_refused_before_anything_is_stored(detector):
    with detector.client() as client:
        declare(client, "m.x")
        contradictory = client.post("/v1/rules", json={
            "name": "c", "metric": "m.x", "severity": "P2", "when": {"value": {}, "above": 10, "below": 5}})
        assert contradictory.status_code == 422, contradictory.text
        cycle = client.post("/v1/rules", json={
            "name": "cyc", "metric": "m.x", "severity": "P2", "when": {"ref": "a"},
            "conditions": {"a": {"all": [{"ref": "b"}]}, "b": {"any": [{"ref": "a"}]}}})
        assert cycle.status_code == 422 and "cycle" in cycle.text, cycle.text
        assert client.get("/v1/rules").json() == []


def test_every_change_is_a_version_and_applying_the_same_definition_stores_nothing(detector):
    with detector.client() as client:
        declare(client, "store.nps.daily")
        rule = {"name": "nps", "metric": "store.nps.daily", "when": {"value": {}, "below": 55},
                "severity": "P1"}
        created = define(client, **rule)
        same = client.put(f"/v1/rules/{created['id']}", json=rule).json()
        assert (same["changed"], same["version"]) == (False, created["version"])
        moved = client.put(f"/v1/rules/{created['id']}",
                           json={**rule, "when": {"value": {}, "below": 50}}).json()
        assert moved["changed"] and moved["version"] > created["version"]
        client.patch(f"/v1/rules/{created['id']}", json={"enabled": False}).raise_for_status()
        history = client.get(f"/v1/rules/{created['id']}/history").json()
        assert [h["definition"].get("enabled", True) for h in history] == [True, True, False]
        assert [h["definition"]["when"]["below"] for h in history] == [55, 50, 50]
        assert {h["actor"] for h in history} == {"admin"} or all(h["actor"] for h in history)


def test_samples_out_of_order_are_rejected_and_leave_the_series_alone(detector):
    with detector.client() as client:
        declare(client, "store.nps.daily")
        define(client, name="three down", metric="store.nps.daily", severity="P2",
               when={"streak": {"direction": "down"}, "at_least": 3})
        daily(client, "store.nps.daily", "store-1", [70, 69])
        late = daily(client, "store.nps.daily", "store-1", [10], first_day=0)  # day 0 again
        assert late["accepted"] == 0 and late["rejected"] == [{"index": 0, "reason": "out_of_order"}]
        assert daily(client, "store.nps.daily", "store-1", [68], first_day=2)["raised"] == 0
        assert daily(client, "store.nps.daily", "store-1", [67], first_day=3)["raised"] == 1


def test_a_restarted_detector_rebuilds_its_state_from_the_stored_samples(database_url, nats_url):
    service = start(database_url, nats_url)
    with service.client() as client:
        declare(client, "store.orders.daily")
        define(client, name="decline", metric="store.orders.daily", severity="P2",
               when={"streak": {"direction": "down"}, "at_least": 3})
        daily(client, "store.orders.daily", "store-7", [100, 95, 90])  # two declines so far
    service.stop()
    service = start(database_url, nats_url)
    try:
        with service.client() as client:
            # The third decline only fires if the first two survived the restart.
            assert daily(client, "store.orders.daily", "store-7", [80], first_day=3)["raised"] == 1
    finally:
        service.stop()


def test_the_alert_budget_suppresses_and_counts_what_is_over_it(detector):
    with detector.client() as client:
        declare(client, "store.wait_minutes")
        rule = define(client, name="queues", metric="store.wait_minutes", severity="P2",
                      when={"value": {}, "above": 15}, budget={"per_day": 2})
        results = [daily(client, "store.wait_minutes", f"store-{i}", [30]) for i in range(5)]
        assert sum(r["raised"] for r in results) == 2
        assert sum(r["suppressed"] for r in results) == 3
        health = wait_until(lambda: next((h for h in client.get("/v1/rules/health").json()
                                          if h["rule_id"] == rule["id"] and h["suppressed"] == 3), None),
                            message="rule health counts the suppressed raises")
        assert health["raised"] == 2 and health["noisy"]


def test_a_rule_whose_incidents_are_closed_as_false_positives_shows_as_noisy(detector, nats_url):
    with detector.client() as client:
        declare(client, "store.nps.daily")
        rule = define(client, name="nps low", metric="store.nps.daily", severity="P1",
                      when={"value": {}, "below": 55})
        daily(client, "store.nps.daily", "store-9", [40])
        alert = wait_until(lambda: next((a for a in client.get("/v1/alerts").json()
                                         if a["rule_id"] == rule["id"]), None), message="alert")
        asyncio.run(publish_resolution(nats_url, alert["fingerprint"], "false_positive"))
        health = wait_until(lambda: next((h for h in client.get("/v1/rules/health").json()
                                          if h["rule_id"] == rule["id"] and h["false_positive"]), None),
                            message="the verdict reaches rule health")
        assert (health["raised"], health["false_positive"], health["false_positive_share"]) == (1, 1, 1.0)
        assert health["noisy"]


async def publish_resolution(nats_url: str, fingerprint: str, verdict: str) -> None:
    fact = IncidentResolved(incident_id=str(uuid.uuid4()), ref="P1-2026-10-001", severity="P1",
                            title="nps low on store-9", entity="store-9", by="li.wei",
                            summary="not a real drop", at=datetime.now(timezone.utc),
                            fingerprint=fingerprint, verdict=verdict)
    envelope = CloudEvent(id=f"incidents:{uuid.uuid4().hex}", source="closedloop/incidents",
                          type=fact.type_name(), time=fact.at, data=fact.model_dump(mode="json"))
    nc = await nats.connect(nats_url)
    await nc.jetstream().publish(fact.type_name(), envelope.to_bytes())
    await nc.close()


def test_a_backtest_over_an_uploaded_csv_reports_misses_and_false_positives(detector):
    csv = "timestamp,value\n" + "\n".join(
        f"2026-10-{d:02d} 00:00:00,{v}" for d, v in enumerate([70, 71, 40, 72, 45, 70, 69], start=1))
    with detector.client() as client:
        declare(client, "store.nps.daily")
        rule = define(client, name="nps<50", metric="store.nps.daily", severity="P1",
                      when={"value": {}, "below": 50})
        r = client.post(f"/v1/rules/{rule['id']}/backtest", json={
            "csv": csv, "entity": "store-1",
            "windows": [{"start": "2026-10-03T00:00:00Z", "end": "2026-10-03T12:00:00Z"}],
            "sweep": {"candidates": [30, 42, 50, 60]}})
        assert r.status_code == 200, r.text
        result = r.json()
        assert len(result["replay"]["alerts"]) == 2  # day 3 (real) and day 5 (false)
        assert result["scores"]["false_positive_rate"] == 0.5 and result["scores"]["miss_rate"] == 0
        assert result["sweep"]["recommended"]["bound"] == 42  # catches day 3 (40), not day 5 (45)
        bad = client.post(f"/v1/rules/{rule['id']}/backtest", json={"csv": "timestamp,value\nyesterday,1"})
        assert bad.status_code == 422 and "line 2" in bad.text


def test_rules_apply_shows_a_diff_then_applies_and_is_idempotent(detector, tmp_path, capsys):
    from closedloop.cli import main

    path = tmp_path / "rules.yaml"
    path.write_text("""
version: 1
metrics: [{name: store.nps.daily, interval: 1d}]
rules:
  - {name: nps-severe, metric: store.nps.daily, severity: P1, when: {value: {}, below: 55}}
""")
    args = ["rules", "apply", str(path), "--url", detector.url, "--api-key", ADMIN_KEY, "--yes"]
    assert main(args) == 0
    assert "+ rule nps-severe" in capsys.readouterr().out
    assert main(args) == 0
    assert "no changes." in capsys.readouterr().out
    path.write_text(path.read_text().replace("below: 55", "below: 50"))
    assert main([*args[:-1], "--dry-run"]) == 0
    diff = capsys.readouterr().out
    assert "~ rule nps-severe" in diff and "-  below: 55" in diff and "+  below: 50" in diff
    with detector.client() as client:
        assert client.get("/v1/rules").json()[0]["definition"]["when"]["below"] == 55  # dry run
