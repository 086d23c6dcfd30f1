"""Each service over real HTTP, NATS and PostgreSQL refuses input over its size limits with a
422 (413 for the whole body) that names the field and the limit, and stores nothing."""
from __future__ import annotations

import uuid

import pytest

from services.capa.main import create_app as capa_app
from services.capa.settings import CapaSettings
from services.detector.main import create_app as detector_app
from services.detector.settings import DetectorSettings
from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from services.notifier.main import create_app as notifier_app
from services.notifier.settings import NotifierSettings
from shared.limits import LABEL_VALUE, MAP_KEYS, MAX_BODY_BYTES, REQUEST_ID, TEXT
from tests.harness import API_KEYS, NOTIFIER_SAFETY, RunningService

pytestmark = pytest.mark.integration


@pytest.fixture
def start(database_url, nats_url):
    started = []

    def run(create, settings_class, **required) -> RunningService:
        service = RunningService(create(settings_class(
            database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, **required))).start()
        started.append(service)
        return service

    yield run
    for service in started:
        service.stop()


def named(response, field: str, message: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert {"field": field, "message": message} in [
        {k: e[k] for k in ("field", "message")} for e in body["errors"]], body
    assert f"{field}: {message}" in body["detail"]


def test_detector_names_the_annotation_label_and_sample_over_their_limits(start):
    detector = start(detector_app, DetectorSettings)
    fingerprint = f"fp-{uuid.uuid4().hex[:8]}"
    alert = {"labels": {"alertname": "DiskFull"}, "fingerprint": fingerprint,
             "annotations": {"description": "d" * (TEXT + 1)}}
    with detector.client() as client:
        webhook = client.post("/v1/ingest/alertmanager", json={"status": "firing", "alerts": [alert]})
        named(webhook, "alerts.0.annotations.description", f"at most {TEXT} characters")
        api_v2 = client.post("/v1/ingest/alertmanager", json=[
            {"labels": {f"k{i}": "v" for i in range(MAP_KEYS + 1)}}])
        named(api_v2, "0.labels", f"at most {MAP_KEYS} keys")
        samples = client.post("/v1/samples", json={"samples": [
            {"metric": "m", "entity": "e", "value": 1, "labels": {"region": "r" * (LABEL_VALUE + 1)}}]})
        named(samples, "samples.0.labels.region", f"at most {LABEL_VALUE} characters")
        request_id = client.post("/v1/ingest/alertmanager", json=[{"labels": {"alertname": "A"}}],
                                 headers={"X-Request-Id": "r" * (REQUEST_ID + 1)})
        named(request_id, "headers.X-Request-Id", f"at most {REQUEST_ID} characters")
        too_big = client.post("/v1/samples", content=b" " * (MAX_BODY_BYTES + 1),
                              headers={"Content-Type": "application/json"})
        assert too_big.status_code == 413 and too_big.json()["errors"][0]["field"] == "body"
        assert client.get("/v1/alerts", params={"status": "all"}).json() == []  # nothing stored


def test_incidents_names_the_summary_over_its_limit(start):
    incidents = start(incidents_app, IncidentsSettings)
    with incidents.client() as client:
        response = client.post("/v1/incidents/P0-2026-11-001/resolve",
                               json={"by": "ann", "summary": "s" * (TEXT + 1)})
        named(response, "summary", f"at most {TEXT} characters")


def test_notifier_names_the_header_value_over_its_limit(start):
    notifier = start(notifier_app, NotifierSettings, **NOTIFIER_SAFETY)
    with notifier.client() as client:
        response = client.post("/v1/channels", json={
            "name": "ops", "url": "https://example.invalid/hook", "secret": "s" * 32,
            "headers": {"X-Team": "t" * (LABEL_VALUE + 1)}})
        named(response, "headers.X-Team", f"at most {LABEL_VALUE} characters")
        assert client.get("/v1/channels").json()["total"] == 0


def test_capa_names_the_why_over_its_limit(start):
    capa = start(capa_app, CapaSettings)
    with capa.client() as client:
        response = client.post(f"/v1/capa/{uuid.uuid4()}/root-cause", json={
            "by": "ann", "method": "5whys", "statement": "the pump seal wore out",
            "whys": ["ok", "w" * (TEXT + 1)]})
        named(response, "whys.1", f"at most {TEXT} characters")
