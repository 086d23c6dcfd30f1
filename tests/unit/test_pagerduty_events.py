"""PagerDuty Events API v2 bodies read as PagerDuty reads them: what each field must be, the
severity mapping, dedup keys scoped by integration, and refusals naming the field."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from services.detector.alert_sources import AlertSources
from services.detector.domain import Severity
from services.detector.pagerduty import InvalidEvent, MAX_BODY_BYTES, Throttle, read_event

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=timezone.utc)
KEY = "R0UTINGKEY0123456789abcdef012345"
SOURCES = AlertSources.model_validate({"pagerduty": [
    {"name": "pos", "routing_key": KEY, "labels": {"team": "retail"}},
    {"name": "wms", "routing_key": "W" * 32}]})


def event(**changes) -> dict:
    body = {"routing_key": KEY, "event_action": "trigger", "dedup_key": "pos-042-down",
            "payload": {"summary": "POS offline at store 042", "source": "store-042",
                        "severity": "critical", "component": "pos", "class": "StoreDown",
                        "timestamp": "2015-07-17T08:42:58.315+0000"}}
    body.update(changes)
    return body


def read(body: dict | bytes):
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return read_event(raw, SOURCES.by_routing_key, NOW)


def refusal(body: dict | bytes) -> list[str]:
    with pytest.raises(InvalidEvent) as caught:
        read(body)
    return caught.value.errors


def test_a_trigger_becomes_a_firing_alert_on_its_source():
    alert, dedup_key = read(event())
    assert dedup_key == "pos-042-down"
    assert (alert.firing, alert.source, alert.entity, alert.name, alert.severity) == (
        True, "pagerduty", "store-042", "StoreDown", Severity.P0)
    assert alert.labels == {"team": "retail", "integration": "pos", "dedup_key": "pos-042-down",
                            "component": "pos", "class": "StoreDown"}
    assert alert.starts_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=timezone.utc)


@pytest.mark.parametrize("severity,level", [("critical", Severity.P0), ("error", Severity.P1),
                                            ("warning", Severity.P2), ("info", Severity.P3)])
def test_severity_maps_onto_p_levels(severity, level):
    alert, _ = read(event(payload={**event()["payload"], "severity": severity}))
    assert alert.severity == level


def test_a_trigger_without_dedup_key_gets_a_new_one_each_time():
    body = event()
    del body["dedup_key"]
    (first, key1), (second, key2) = read(body), read(body)
    assert key1 != key2 and first.fingerprint != second.fingerprint and len(key1) == 32


def test_dedup_keys_are_scoped_by_integration_as_pagerduty_scopes_them_by_routing_key():
    ours, _ = read(event())
    theirs, _ = read(event(routing_key="W" * 32))
    assert ours.fingerprint != theirs.fingerprint


def test_acknowledge_and_resolve_name_the_same_alert_and_ignore_the_payload():
    trigger, _ = read(event())
    ack, _ = read({"routing_key": KEY, "event_action": "acknowledge", "dedup_key": "pos-042-down"})
    resolve, _ = read({"routing_key": KEY, "event_action": "resolve", "dedup_key": "pos-042-down"})
    assert trigger.fingerprint == ack.fingerprint == resolve.fingerprint
    assert (ack.acknowledge, ack.firing) == (True, False)
    assert (resolve.acknowledge, resolve.firing) == (False, False)


@pytest.mark.parametrize("change,named", [
    ({"routing_key": None}, "'routing_key' is missing or blank"),
    ({"routing_key": "not-a-configured-key"}, "'routing_key' is not a known integration key"),
    ({"event_action": "escalate"}, "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"),
    ({"event_action": None}, "'event_action' is invalid"),
    ({"dedup_key": "k" * 256}, "'dedup_key' must be a string of at most 255 characters"),
    ({"payload": None}, "'payload' is missing or not an object"),
    ({"payload": {"source": "s", "severity": "info"}}, "'payload.summary' is missing or blank"),
    ({"payload": {"summary": "x" * 1025, "source": "s", "severity": "info"}}, "'payload.summary' is 1025 characters; at most 1024"),
    ({"payload": {"summary": "s", "severity": "info"}}, "'payload.source' is missing or blank"),
    ({"payload": {"summary": "s", "source": "s"}}, "'payload.severity' is missing or blank"),
    ({"payload": {"summary": "s", "source": "s", "severity": "fatal"}}, "'payload.severity' is invalid (must be one of: critical, error, warning, info)"),
    ({"payload": {"summary": "s", "source": "s", "severity": "info", "timestamp": "yesterday"}}, "'payload.timestamp' must be an ISO 8601 timestamp"),
])
def test_an_invalid_event_is_refused_naming_the_field(change, named):
    body = {k: v for k, v in event(**change).items() if v is not None}
    assert any(e.startswith(named) for e in refusal(body)), refusal(body)


def test_every_bad_field_is_listed_at_once():
    errors = refusal({"event_action": "explode"})
    assert [e.split("'")[1] for e in errors] == ["routing_key", "event_action"]


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_need_the_dedup_key(action):
    assert refusal({"routing_key": KEY, "event_action": action}) == [
        f"'dedup_key' is missing or blank: {action} needs the key of the alert"]


def test_bodies_past_512_kb_and_non_json_are_refused():
    too_big = orjson.dumps(event(payload={**event()["payload"],
                                          "custom_details": {"x": "y" * MAX_BODY_BYTES}}))
    assert "limited to 524288 bytes" in refusal(too_big)[0]
    assert refusal(b"{not json")[0].startswith("the body is not valid JSON")
    assert refusal(b"[]") == ["the event must be a JSON object"]


def test_an_integration_past_its_rate_limit_is_throttled_until_the_window_moves_on():
    sources = AlertSources.model_validate({"pagerduty": [
        {"name": "pos", "routing_key": KEY, "rate_limit": "3/60s"},
        {"name": "wms", "routing_key": "W" * 32, "rate_limit": "off"}]})
    throttle = Throttle(sources.pagerduty)
    second = timedelta(seconds=1)
    assert [throttle.refusal("pos", NOW + i * second) for i in range(3)] == [None] * 3
    body, retry_after = throttle.refusal("pos", NOW + 10 * second)
    assert body["status"] == "throttle event" and "'routing_key'" in body["message"]
    assert "3/60s" in body["message"] and retry_after == "50"  # the first leaves at 60 s
    # A refused event is not counted: once the first leaves the window, one more goes in.
    assert throttle.refusal("pos", NOW + 60 * second) is None
    assert throttle.refusal("pos", NOW + 60 * second) is not None
    # Each integration counts its own; "off" never throttles.
    assert all(throttle.refusal("wms", NOW) is None for _ in range(500))


def test_the_default_rate_limit_is_pagerdutys_and_a_bad_one_is_refused_naming_the_form():
    assert SOURCES.pagerduty[0].limit == (120, timedelta(seconds=60))
    with pytest.raises(ValueError, match=r"pagerduty.0.rate_limit\n.*e.g. 120/60s"):
        AlertSources.model_validate({"pagerduty": [
            {"name": "pos", "routing_key": KEY, "rate_limit": "fast"}]})
