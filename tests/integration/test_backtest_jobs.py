"""Backtest jobs over real HTTP, NATS and PostgreSQL: a sweep job polled from queued to done
with its progress and result, a long job cancelled, and `closedloop backtest` following a
job on the running detector."""
from __future__ import annotations

import json
import time

import pytest

from closedloop.cli import main
from services.detector.main import create_app
from services.detector.settings import DetectorSettings
from tests.harness import ADMIN_KEY, API_KEYS, RESPONDER_KEY, RunningService, wait_until

pytestmark = pytest.mark.integration
T0 = 1_700_000_000


@pytest.fixture
def detector(database_url, nats_url):
    service = RunningService(create_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        tick_seconds=0.2))).start()
    yield service
    service.stop()


def csv(n: int) -> str:
    rows = [f"{T0 + 60 * k},{k % 13 + (60 if k % 2000 == 1000 else 0)}" for k in range(n)]
    return "timestamp,value\n" + "\n".join(rows)


def define(client, when: dict) -> dict:
    r = client.put("/v1/metrics/catalogue", json=[{"name": "load", "interval": "1m",
                                                   "retention": "400d"}])
    assert r.status_code == 200, r.text
    r = client.post("/v1/rules", json={"name": "load-odd", "metric": "load", "severity": "P2",
                                       "when": when})
    assert r.status_code == 201, r.text
    return r.json()


def until_ended(client, location: str) -> tuple[dict, list[str]]:
    seen: list[str] = []
    job: dict = {}

    def ended() -> bool:
        nonlocal job
        job = client.get(location).json()
        seen.append(job["state"])
        return job["state"] in ("done", "failed", "cancelled")
    wait_until(ended, 120, "the backtest job never ended")
    return job, seen


def test_a_sweep_job_reports_progress_and_its_result_when_done(detector):
    with detector.client(RESPONDER_KEY) as client, detector.client(ADMIN_KEY) as admin:
        rule = define(admin, {"deviation": {"method": "zscore", "window": 30}, "above": 4})
        windows = [{"start": f"{T0 + 60 * (k - 5)}", "end": f"{T0 + 60 * (k + 30)}"}
                   for k in range(1000, 20000, 2000)]
        windows = [{"start": _iso(w["start"]), "end": _iso(w["end"])} for w in windows]
        r = client.post(f"/v1/rules/{rule['id']}/backtest/jobs", json={
            "csv": csv(20000), "entity": "shop-1", "windows": windows,
            "sweep": {"path": "when.above"}})
        assert r.status_code == 202, r.text
        location = r.headers["location"]
        assert location == f"/v1/backtest/jobs/{r.json()['id']}"
        assert r.json()["state"] in ("queued", "running")
        job, _ = until_ended(client, location)
        assert job["state"] == "done", job["error"]
        progress = job["progress"]
        assert progress["samples_done"] == progress["samples_total"] == \
            20000 * (1 + progress["candidates_total"])
        assert progress["candidates_done"] == progress["candidates_total"] == \
            len(job["result"]["sweep"]["rows"])
        assert job["result"]["scores"]["detected_windows"] == 10
        assert job["result"]["sweep"]["recommended"] is not None
        # The synchronous endpoint answers the same replay inline, as before.
        inline = client.post(f"/v1/rules/{rule['id']}/backtest", json={
            "csv": csv(20000), "entity": "shop-1", "windows": windows}).json()
        assert inline["replay"]["alerts"] == job["result"]["replay"]["alerts"]


def test_a_cancelled_job_stops_before_its_end_and_says_cancelled(detector):
    with detector.client(RESPONDER_KEY) as client, detector.client(ADMIN_KEY) as admin:
        # A peer measure replays sample by sample: 26 candidates × 40,000 samples is long.
        rule = define(admin, {"peer": {"group_by": "region"}, "above": 3})
        r = client.post(f"/v1/rules/{rule['id']}/backtest/jobs", json={
            "csv": csv(40000), "entity": "shop-1", "windows": [], "sweep": {}})
        assert r.status_code == 202, r.text
        location = r.headers["location"]
        cancel = client.delete(location)
        assert cancel.status_code == 202 and cancel.json()["cancel_requested"]
        job, _ = until_ended(client, location)
        assert job["state"] == "cancelled"
        assert job["result"] is None
        assert job["progress"]["samples_done"] < job["progress"]["samples_total"]
        again = client.post(f"{location}/cancel")
        assert again.status_code == 202 and again.json()["state"] == "cancelled"
        missing = client.get("/v1/backtest/jobs/no-such-job")
        assert missing.status_code == 404 and "restart" in missing.json()["detail"]


def test_a_bad_sweep_path_is_refused_before_a_job_starts(detector):
    with detector.client(RESPONDER_KEY) as client, detector.client(ADMIN_KEY) as admin:
        rule = define(admin, {"value": {}, "above": 4})
        r = client.post(f"/v1/rules/{rule['id']}/backtest/jobs", json={
            "csv": csv(100), "entity": "shop-1", "sweep": {"path": "when.nowhere"}})
        assert r.status_code == 422 and "when.nowhere" in r.text


def test_the_cli_follows_a_job_on_the_detector_to_its_result(detector, tmp_path, capsys):
    with detector.client(ADMIN_KEY) as admin:
        define(admin, {"value": {}, "above": 40})
        r = admin.post("/v1/samples", json={"series": [{
            "metric": "load", "entity": "shop-1", "labels": {},
            "ts": [time.time() - 60 * (3000 - k) for k in range(3000)],
            "values": [float(k % 13 + (60 if k % 1000 == 500 else 0)) for k in range(3000)]}]})
        assert r.status_code == 200, r.text
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrules:\n  - {name: load-odd, metric: load, severity: P2, "
                     "when: {value: {}, above: 40}}\n")
    assert main(["backtest", str(rules), "--sweep", "--json", "--url", detector.url,
                 "--api-key", RESPONDER_KEY]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["replay"]["samples"] == 3000
    assert len(result["replay"]["alerts"]) == 3
    assert result["sweep"]["rows"]


def test_a_job_answers_the_series_and_windows_of_a_chart_for_any_version(detector):
    with detector.client(RESPONDER_KEY) as client, detector.client(ADMIN_KEY) as admin:
        rule = define(admin, {"value": {}, "above": 40})   # version 1: the spikes of 60 fire
        r = admin.put(f"/v1/rules/{rule['id']}", json={
            "name": "load-odd", "metric": "load", "severity": "P2",
            "when": {"value": {}, "above": 100}})          # version 2: nothing fires
        assert r.status_code == 200 and r.json()["version"] == 2, r.text
        windows = [{"start": _iso(str(T0 + 60 * 995)), "end": _iso(str(T0 + 60 * 1010))}]
        body = {"csv": csv(5000), "entity": "shop-1", "windows": windows, "points": 400}
        jobs = {}
        for version in (1, None):
            r = client.post(f"/v1/rules/{rule['id']}/backtest/jobs",
                            json={**body, "version": version})
            assert r.status_code == 202, r.text
            jobs[version], _ = until_ended(client, r.headers["location"])
        old, current = jobs[1]["result"], jobs[None]["result"]
        assert [a["start"] for a in old["replay"]["alerts"]] == [T0 + 60 * k
                                                                 for k in (1000, 3000)]
        assert old["scores"]["precision"] == 0.5 and old["scores"]["miss_rate"] == 0.0
        assert current["replay"]["alerts"] == []
        (series,) = old["series"]
        assert series["entity"] == "shop-1" and series["total"] == 5000
        assert len(series["points"]) <= 400
        assert [T0 + 60 * 3000, 3000 % 13 + 60.0] in series["points"]   # the spike is kept
        assert old["labelled_windows"] == [{"start": T0 + 60 * 995, "end": T0 + 60 * 1010,
                                            "entity": None}]
        unknown = client.post(f"/v1/rules/{rule['id']}/backtest/jobs",
                              json={**body, "version": 7})
        assert unknown.status_code == 422
        assert "version" in unknown.text and "1, 2" in unknown.text


def _iso(epoch: str) -> str:
    from datetime import datetime, timezone
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).isoformat()
