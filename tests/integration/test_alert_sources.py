"""The detector's other ways in, over real HTTP, NATS and PostgreSQL with the incidents
service running: a PagerDuty trigger opens an incident, re-sends change nothing, acknowledge
acknowledges the incident (once) and resolve clears its alert; invalid events are answered
as PagerDuty answers them, and so is an integration past its rate limit (429); a
Grafana payload comes in through its mapping; raw complaints are counted into an alert."""
from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from services.detector.domain import Alert, alert_id_for, fingerprint_of
from tests.harness import ADMIN_KEY, INGEST_KEY, RunningService, service_app, wait_until

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).parents[2] / "examples" / "alert-sources" / "alert-sources.yaml"
KEY = "R0UTINGKEY0123456789abcdef012345"  # the example's pos-monitoring integration


@pytest.fixture
def stack(database_url, nats_url):
    common = dict(database_url=database_url, nats_url=nats_url)
    # The detector's clock moves forward on request, and ticks often: windows close by it.
    services = {"detector": RunningService(service_app(
                    "detector", alert_sources_file=str(EXAMPLE), clock_adjustable=True,
                    tick_seconds=0.2, **common)).start(),
                "incidents": RunningService(service_app("incidents", **common)).start()}
    yield services
    for service in services.values():
        service.stop()


def enqueue(detector: RunningService, body: dict | bytes) -> httpx.Response:
    """As a PagerDuty sender: no API key, the routing key is the credential."""
    content = body if isinstance(body, bytes) else None
    return httpx.post(f"{detector.url}/v2/enqueue", json=None if content else body,
                      content=content, timeout=10)


def trigger(dedup_key: str | None, severity: str = "critical") -> dict:
    body = {"routing_key": KEY, "event_action": "trigger",
            "payload": {"summary": "POS offline at 深圳宝安店", "source": "sz-baoan",
                        "severity": severity, "class": "PosDown"}}
    return {**body, "dedup_key": dedup_key} if dedup_key else body


def stored(detector: RunningService, fingerprint: str, kind: type) -> int:
    app = detector.runtime.application
    return sum(isinstance(e, kind) for e in app.stored_events(alert_id_for(fingerprint)))


def incident_of(incidents: RunningService, fingerprint: str) -> dict | None:
    with incidents.client(ADMIN_KEY) as client:
        items = client.get("/v1/incidents", params={"limit": 500}).json()["items"]
    return next((i for i in items if i["fingerprint"] == fingerprint), None)


def test_a_pagerduty_trigger_opens_an_incident_acknowledge_takes_it_on_resolve_clears_it(stack):
    detector, incidents = stack["detector"], stack["incidents"]
    dedup_key = f"pos-{uuid.uuid4().hex[:8]}"
    fingerprint = fingerprint_of("pagerduty", "pos-monitoring", dedup_key)

    answer = enqueue(detector, trigger(dedup_key))
    assert (answer.status_code, answer.json()) == (
        202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})
    incident = wait_until(lambda: incident_of(incidents, fingerprint), 20, "the incident opened")
    assert (incident["severity"], incident["entity"]) == ("P0", "sz-baoan")

    # The monitor re-sends while the problem lasts: accepted, nothing new stored.
    assert enqueue(detector, trigger(dedup_key, "warning")).status_code == 202
    assert stored(detector, fingerprint, Alert.Raised) == 1

    ack = {"routing_key": KEY, "event_action": "acknowledge", "dedup_key": dedup_key}
    assert enqueue(detector, ack).json()["dedup_key"] == dedup_key
    assert enqueue(detector, ack).status_code == 202  # twice: recorded once
    assert stored(detector, fingerprint, Alert.Acknowledged) == 1
    with incidents.client(ADMIN_KEY) as client:
        acknowledged = wait_until(
            lambda: (i := client.get(f"/v1/incidents/{incident['id']}").json())
            .get("acknowledged_by") and i, 20, "the incident acknowledged")
        assert (acknowledged["status"], acknowledged["acknowledged_by"]) == (
            "investigating", "pagerduty:pos-monitoring")
        timeline = client.get(f"/v1/incidents/{incident['id']}/timeline").json()
    acks = [entry for entry in timeline if "acknowledged" in str(entry).lower()
            and "pagerduty:pos-monitoring" in str(entry)]
    assert len(acks) == 1, timeline  # the second acknowledge was recorded once, upstream

    resolve = {"routing_key": KEY, "event_action": "resolve", "dedup_key": dedup_key}
    assert enqueue(detector, resolve).status_code == 202
    assert enqueue(detector, resolve).status_code == 202  # PagerDuty drops it; so do we
    assert stored(detector, fingerprint, Alert.Resolved) == 1
    with incidents.client(ADMIN_KEY) as client:
        wait_until(lambda: any("clear" in str(entry).lower() for entry in
                               client.get(f"/v1/incidents/{incident['id']}/timeline").json()),
                   20, "the incident's timeline shows the alert cleared")

    # After the resolve the same key opens a new alert occurrence, as in PagerDuty.
    assert enqueue(detector, trigger(dedup_key)).status_code == 202
    assert stored(detector, fingerprint, Alert.Raised) == 2


def test_a_trigger_without_dedup_key_is_given_one_that_resolves_it(stack):
    detector = stack["detector"]
    answer = enqueue(detector, trigger(None)).json()
    fingerprint = fingerprint_of("pagerduty", "pos-monitoring", answer["dedup_key"])
    assert answer["status"] == "success" and stored(detector, fingerprint, Alert.Raised) == 1
    enqueue(detector, {"routing_key": KEY, "event_action": "resolve",
                       "dedup_key": answer["dedup_key"]})
    assert stored(detector, fingerprint, Alert.Resolved) == 1


@pytest.mark.parametrize("body,named", [
    ({"event_action": "trigger", "payload": {"summary": "s", "source": "s", "severity": "info"}},
     "'routing_key' is missing or blank"),
    ({**trigger("k"), "routing_key": "someone-elses-key-000000000000000"},
     "'routing_key' is not a known integration key"),
    ({**trigger("k"), "event_action": "snooze"}, "'event_action' is invalid"),
    ({**trigger("k"), "payload": {"source": "s", "severity": "info"}},
     "'payload.summary' is missing or blank"),
    ({**trigger("k"), "payload": {"summary": "s", "source": "s", "severity": "sev1"}},
     "'payload.severity' is invalid"),
    ({"routing_key": KEY, "event_action": "resolve"}, "'dedup_key' is missing or blank"),
    (b"{\"routing_key\": ", "the body is not valid JSON"),
    (b"{\"x\": \"" + b"y" * 600_000 + b"\"}", "limited to 524288 bytes (512 KB)"),
])
def test_invalid_events_are_answered_400_naming_the_field_and_store_nothing(stack, body, named):
    detector = stack["detector"]
    answer = enqueue(detector, body)
    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event"
    assert answer.json()["message"] == "Event object is invalid"
    assert any(named in error for error in answer.json()["errors"]), answer.json()
    assert not detector.runtime.application.recorder.max_notification_id()  # nothing stored


def test_past_pagerdutys_rate_limit_an_integration_is_answered_429_and_nothing_is_stored(stack):
    detector = stack["detector"]
    # The example integration keeps PagerDuty's own limit: 120 events in any 60 seconds.
    resent = trigger(f"pos-{uuid.uuid4().hex[:8]}")
    assert {enqueue(detector, resent).status_code for _ in range(120)} == {202}
    stored_before = detector.runtime.application.recorder.max_notification_id()
    fresh = f"pos-{uuid.uuid4().hex[:8]}"
    throttled = enqueue(detector, trigger(fresh))
    assert throttled.status_code == 429, throttled.text
    assert throttled.json()["status"] == "throttle event"
    assert "'routing_key' of integration pos-monitoring" in throttled.json()["message"]
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert detector.runtime.application.recorder.max_notification_id() == stored_before
    # A minute on: the sender's retry goes in.
    with detector.client(ADMIN_KEY) as admin:
        assert admin.post("/v1/clock/advance", json={"seconds": 61}).status_code == 200
    assert enqueue(detector, trigger(fresh)).status_code == 202
    fingerprint = fingerprint_of("pagerduty", "pos-monitoring", fresh)
    assert stored(detector, fingerprint, Alert.Raised) == 1


def test_an_alertmanager_batch_with_a_level_outside_p0_p3_is_refused_whole(stack):
    detector = stack["detector"]
    alerts = [{"labels": {"alertname": "PosDown", "store": "sz-baoan", "severity": "P1"}},
              {"labels": {"alertname": "PosDown", "store": "gz-tianhe", "severity": "P4"}}]
    with detector.client(INGEST_KEY) as client:
        refused = client.post("/v1/ingest/alertmanager", json={
            "version": "4", "status": "firing", "receiver": "closedloop", "groupKey": "k",
            "alerts": alerts})
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "alerts.1.labels.severity" and "outside P0–P3" in error["message"]
    assert not detector.runtime.application.recorder.max_notification_id()  # nothing stored


def test_a_grafana_payload_raises_through_its_mapping_and_a_mismatch_stores_nothing(stack):
    detector, incidents = stack["detector"], stack["incidents"]

    def alert(store: str, status: str = "firing", **labels) -> dict:
        return {"status": status, "fingerprint": f"gf-{store}", "startsAt": "2026-12-06T07:55:00Z",
                "labels": {"alertname": "StoreErrorRate", "store": store, "severity": "critical",
                           **labels},
                "annotations": {"summary": f"errors at {store}"}, "values": {"B": 42.5}}

    with detector.client(INGEST_KEY) as client:
        route = "/v1/ingest/webhook/grafana"
        answer = client.post(route, json={"receiver": "closedloop",
                                          "alerts": [alert("sz-baoan"), alert("gz-tianhe")]})
        assert answer.json() == {"accepted": 2, "raised": 2, "resolved": 0, "acknowledged": 0,
                                 "suppressed": 0, "rejected": []}
        again = client.post(route, json={"alerts": [alert("sz-baoan")]}).json()
        assert (again["accepted"], again["raised"]) == (1, 0)

        # One alert of three lacks what the mapping reads: the whole request is refused.
        broken = alert("sh-xuhui")
        del broken["labels"]["store"]
        refused = client.post(route, json={"alerts": [alert("bj-chaoyang"), broken,
                                                       alert("gz-tianhe", "resolved")]})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "alerts.1.entity"
        assert "labels.store || labels.instance" in refused.json()["errors"][0]["message"]
        unknown = client.post("/v1/ingest/webhook/nagios", json={})
        assert unknown.status_code == 404 and "grafana" in unknown.text

    fingerprint = fingerprint_of("webhook", "grafana", "gf-sz-baoan")
    wait_until(lambda: incident_of(incidents, fingerprint), 20, "Grafana's alert opened an incident")
    with detector.client(ADMIN_KEY) as admin:
        def board() -> dict:
            return {a["entity"]: a for a in admin.get("/v1/alerts", params={"status": "all"}).json()}
        listed = wait_until(lambda: len(board()) >= 2 and board(), message="the alert board")
    assert set(listed) == {"sz-baoan", "gz-tianhe"}  # not bj-chaoyang, gz-tianhe still firing
    assert listed["gz-tianhe"]["status"] == "firing"
    assert (listed["sz-baoan"]["source"], listed["sz-baoan"]["value"]) == ("webhook:grafana", 42.5)


def test_raw_complaints_are_counted_per_store_and_day_into_an_alert_that_clears_next_day(stack):
    detector, incidents = stack["detector"], stack["incidents"]
    with detector.client(ADMIN_KEY) as admin:
        declared = admin.put("/v1/metrics/catalogue", json=[{
            "name": "store.complaints", "unit": "complaints",
            "count": {"window": "1d", "time_zone": "Asia/Shanghai"}}])
        assert declared.status_code == 200, declared.text
        rule = admin.post("/v1/rules", json={
            "name": "complaints-per-day", "metric": "store.complaints", "severity": "P2",
            "when": {"value": {}, "at_least": {"by": "size", "large": 5, "small": 3}}})
        assert rule.status_code == 201, rule.text

    def complaint(store: str, size: str) -> dict:
        return {"kind": "store.complaints", "entity": store, "attributes": {"size": size}}

    with detector.client(INGEST_KEY) as client:
        four_large = client.post("/v1/events", json={"events": [complaint("sz-baoan", "large")] * 4})
        assert (four_large.status_code, four_large.json()["raised"]) == (200, 0), four_large.text
        three_small = client.post("/v1/events", json={"events": [complaint("gz-small", "small")] * 3})
        assert three_small.json()["raised"] == 1
        fifth_large = client.post("/v1/events", json={"events": [complaint("sz-baoan", "large")]})
        assert fifth_large.json() == {"accepted": 1, "raised": 1, "resolved": 0, "acknowledged": 0,
                                      "suppressed": 0, "rejected": []}
        sixth = client.post("/v1/events", json={"events": [complaint("sz-baoan", "large")]})
        assert sixth.json()["raised"] == 0  # still the same alert

        bad = client.post("/v1/events", json={"events": [{"kind": "store.nps", "entity": "x"}]})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "events.0.kind"
    fingerprint = fingerprint_of("rule", rule.json()["id"], "sz-baoan")
    opened = wait_until(lambda: incident_of(incidents, fingerprint), 20, "the complaints incident")
    assert opened["severity"] == "P2"

    # A quiet day: the window closes with a count of 0 and the alert resolves by the clock.
    with detector.client(ADMIN_KEY) as admin:
        assert admin.post("/v1/clock/advance", json={"seconds": 86_400}).status_code == 200
    app = detector.runtime.application
    wait_until(lambda: sum(isinstance(e, Alert.Resolved)
                           for e in app.stored_events(alert_id_for(fingerprint))) == 1,
               20, "the complaints alert resolved after a day without complaints")
