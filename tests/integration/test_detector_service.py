"""The detector over real HTTP, NATS and PostgreSQL: samples in, alert contracts out."""
from __future__ import annotations

import asyncio
import uuid

import nats
import pytest

from services.detector.main import create_app
from services.detector.settings import DetectorSettings
from shared.contracts import CloudEvent
from tests.harness import API_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def detector(database_url, nats_url):
    service = RunningService(create_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS))).start()
    yield service
    service.stop()


def published(nats_url: str, stream: str, count: int) -> list[CloudEvent]:
    async def fetch() -> list[CloudEvent]:
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        sub = await js.pull_subscribe("closedloop.>", stream=stream)
        try:
            msgs = await sub.fetch(count, timeout=2)
        except Exception:
            msgs = []
        await nc.close()
        return [CloudEvent.from_bytes(m.data) for m in msgs]

    return asyncio.run(fetch())


def nps_rule(client, metric: str, **overrides) -> dict:
    client.put("/v1/metrics/catalogue", json=[{"name": metric, "interval": "1d"}]).raise_for_status()
    response = client.post("/v1/rules", json={
        "name": f"NPS collapse {metric}", "metric": metric, "when": {"value": {}, "below": 50},
        "severity": "P0", "description": "single-day NPS under 50", **overrides})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_falling_metric_raises_one_alert_and_a_recovery_resolves_it(detector, nats_url):
    metric = f"nps-{uuid.uuid4().hex[:6]}"
    with detector.client() as client:
        rule = nps_rule(client, metric)
        for value in (72, 42, 41, 40):  # falls once, then stays down: one alert, not three
            r = client.post("/v1/samples", json={"samples": [
                {"metric": metric, "entity": "store-042", "value": value}]})
            assert r.status_code == 200, r.text
        firing = wait_until(lambda: client.get("/v1/alerts").json(), message="alert on the board")
        assert [(a["entity"], a["severity"], a["rule_id"]) for a in firing] == [
            ("store-042", "P0", rule["id"])]
        client.post("/v1/samples", json={"samples": [{"metric": metric, "entity": "store-042", "value": 70}]})
        wait_until(lambda: client.get("/v1/alerts").json() == [], message="alert resolved")

    events = wait_until(lambda: (lambda e: e if len(e) >= 2 else None)(
        published(nats_url, "DETECTOR", 10)), message="two contracts published")
    assert [e.type for e in events] == ["closedloop.detector.alert.raised.v1",
                                       "closedloop.detector.alert.resolved.v1"]
    raised, resolved = events
    assert raised.data["value"] == 42 and raised.data["entity"] == "store-042"
    assert resolved.data["alert_id"] == raised.data["alert_id"]
    assert raised.id.startswith("detector:")


def test_alertmanager_resends_are_deduplicated_by_fingerprint(detector, nats_url):
    alert = {"labels": {"alertname": "DiskFull", "instance": "db-1", "severity": "critical"},
             "annotations": {"summary": "disk 97% full"}, "startsAt": "2026-11-21T10:00:00Z",
             "fingerprint": f"fp-{uuid.uuid4().hex[:8]}", "status": "firing"}
    body = {"version": "4", "status": "firing", "receiver": "closedloop", "alerts": [alert]}
    with detector.client(RESPONDER_KEY) as client:
        first = client.post("/v1/ingest/alertmanager", json=body).json()
        again = client.post("/v1/ingest/alertmanager", json=body).json()
        assert (first["raised"], again["raised"]) == (1, 0)
        as_api_v2 = [{**alert, "status": None, "endsAt": "2026-11-21T10:05:00Z"}]
        assert client.post("/v1/ingest/alertmanager", json=as_api_v2).json()["resolved"] == 1
    events = wait_until(lambda: (lambda e: e if len(e) >= 2 else None)(
        published(nats_url, "DETECTOR", 10)), message="contracts published")
    assert [e.data["severity"] for e in events[:1]] == ["P0"]
    assert events[1].type.endswith("alert.resolved.v1")


def test_bad_input_gets_a_clear_error(detector):
    with detector.client() as client:
        r = client.post("/v1/samples", json={"samples": [{"metric": "m", "entity": "e", "value": "NaN"}]})
        assert r.status_code == 422 and "samples.0.value" in r.text
        r = client.post("/v1/samples", json={"samples": [{"metric": "m", "value": 1}]})
        assert r.status_code == 422 and "samples.0.entity" in r.text
        r = client.post("/v1/rules", json={"name": "x", "metric": "m",
                                           "when": {"value": {}, "sideways": 1}, "severity": "P9"})
        assert r.status_code == 422 and "sideways" in r.text and "severity" in r.text
        too_many = [{"metric": "m", "entity": "e", "value": 1}] * 50_001
        assert client.post("/v1/samples", json={"samples": too_many}).status_code == 413
        assert client.get(f"/v1/rules/{uuid.uuid4()}").status_code == 404
    with detector.client("wrong-key") as client:
        assert client.get("/v1/rules").status_code == 401
    with detector.client(VIEWER_KEY) as client:
        assert client.get("/v1/rules").status_code == 200
        r = client.post("/v1/samples", json={"samples": [{"metric": "m", "entity": "e", "value": 1}]})
        assert r.status_code == 403
    import httpx
    assert httpx.get(f"{detector.url}/v1/rules").status_code == 401
    assert httpx.get(f"{detector.url}/healthz").status_code == 200
    assert "closedloop_ready" in httpx.get(f"{detector.url}/metrics").text


def test_metrics_count_requests_by_route_and_status(detector):
    import httpx

    with detector.client() as client:
        client.get("/v1/rules")
        client.get(f"/v1/rules/{uuid.uuid4()}")
    text = httpx.get(f"{detector.url}/metrics").text
    assert 'route="/v1/rules",service="detector",status="200"' in text
    assert 'route="/v1/rules/{rule_id}",service="detector",status="404"' in text


def test_with_a_cipher_key_stored_events_are_unreadable_at_rest(database_url, nats_url):
    import base64

    import psycopg

    key = base64.b64encode(b"k" * 32).decode()
    service = RunningService(create_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, cipher_key=key))).start()
    try:
        with service.client() as client:
            rule = nps_rule(client, "secret.metric.name")
            assert client.get(f"/v1/rules/{rule['id']}").json()["metric"] == "secret.metric.name"
    finally:
        service.stop()
    with psycopg.connect(database_url) as conn:
        states = [bytes(r[0]) for r in conn.execute("SELECT state FROM detector.detector_events")]
    assert states and not any(b"secret.metric.name" in s for s in states)


def test_text_with_nul_characters_is_refused_before_anything_is_stored(detector):
    """PostgreSQL text cannot hold NUL: such a rule would be stored but never shown."""
    with detector.client() as client:
        r = client.post("/v1/rules", json={"name": "bad\u0000name", "metric": "m",
                                           "when": {"value": {}, "above": 1}, "severity": "P1"})
        assert r.status_code == 422 and "NUL" in r.text
        assert client.get("/v1/alerts", params={"status": "firing\x00"}).status_code == 422
        assert client.get("/v1/rules").json() == []


def test_a_chunked_body_is_held_to_the_same_size_limit(detector):
    """Without Content-Length the limit is counted while reading, not trusted from a header."""
    import json as _json

    from shared.limits import MAX_BODY_BYTES

    sample = _json.dumps({"metric": "m", "entity": "e", "value": 1}).encode()

    def chunks(count: int, per_chunk: int = 1000):
        yield b'{"samples": ['
        for start in range(0, count, per_chunk):
            n = min(per_chunk, count - start)
            yield (b"," if start else b"") + b",".join(
                sample.replace(b'"e"', f'"e{start + i}"'.encode()) for i in range(n))
        yield b"]}"

    with detector.client() as client:
        small = client.post("/v1/samples", content=chunks(3),
                            headers={"Content-Type": "application/json"})
        assert small.status_code == 200 and small.json()["accepted"] == 3
        huge = client.post("/v1/samples", content=chunks(MAX_BODY_BYTES // len(sample) + 10),
                           headers={"Content-Type": "application/json"})
        assert huge.status_code == 413
