"""Alertmanager payloads (webhook v4 bodies and API v2 alert lists) mapped to plain alerts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from services.detector.alertmanager import alertmanager_alerts, external_alerts
from services.detector.domain import Severity, fingerprint_of
from services.detector.schemas import AlertmanagerAlert, AlertmanagerWebhook

NOW = datetime(2026, 11, 3, 9, 30, tzinfo=timezone.utc)
API_V2 = TypeAdapter(list[AlertmanagerAlert])


def from_webhook(body: dict) -> list:
    webhook = AlertmanagerWebhook.model_validate(body)
    return external_alerts(webhook.alerts, NOW, webhook.status)


def from_api_v2(alerts: list[dict]) -> list:
    return external_alerts(API_V2.validate_python(alerts), NOW, None)


def one(labels: dict[str, str], **fields) -> object:
    (alert,) = from_api_v2([{"labels": labels, **fields}])
    return alert


# A body as Alertmanager 0.27 posts it: firing alerts carry Go's zero time as endsAt.
WEBHOOK = {
    "version": "4", "status": "firing", "receiver": "closedloop", "truncatedAlerts": 0,
    "groupKey": '{}:{alertname="StoreNPSLow"}', "groupLabels": {"alertname": "StoreNPSLow"},
    "commonLabels": {"alertname": "StoreNPSLow", "severity": "critical"},
    "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
    "alerts": [
        {"status": "firing",
         "labels": {"alertname": "StoreNPSLow", "store": "store-042", "region": "east",
                    "severity": "critical"},
         "annotations": {"summary": "NPS at store-042 is 42", "description": "7-day NPS under 45"},
         "startsAt": "2026-11-03T09:14:00.000Z", "endsAt": "0001-01-01T00:00:00Z",
         "generatorURL": "http://prometheus:9090/graph?g0.expr=store_nps%3C45",
         "fingerprint": "8a3c1e02f7d9b645"},
        {"status": "resolved",
         "labels": {"alertname": "StoreNPSLow", "store": "store-017", "region": "east",
                    "severity": "critical"},
         "annotations": {"description": "7-day NPS under 45"},
         "startsAt": "2026-11-03T07:02:00.000Z", "endsAt": "2026-11-03T09:20:00.000Z",
         "generatorURL": "http://prometheus:9090/graph?g0.expr=store_nps%3C45",
         "fingerprint": "51d0e6a9c3b27f18"},
    ],
}


def test_a_webhook_v4_body_maps_every_alert():
    firing, resolved = from_webhook(WEBHOOK)

    assert (firing.fingerprint, firing.firing, firing.name, firing.entity, firing.severity) == (
        "8a3c1e02f7d9b645", True, "StoreNPSLow", "store-042", Severity.P0)
    assert firing.summary == "NPS at store-042 is 42"  # summary wins over description
    assert firing.starts_at == datetime(2026, 11, 3, 9, 14, tzinfo=timezone.utc)
    assert firing.ends_at is None  # the zero time means "no end yet"
    assert firing.labels["region"] == "east"

    assert (resolved.fingerprint, resolved.firing, resolved.entity) == ("51d0e6a9c3b27f18", False, "store-017")
    assert resolved.summary == "7-day NPS under 45"
    assert resolved.ends_at == datetime(2026, 11, 3, 9, 20, tzinfo=timezone.utc)


def test_the_group_status_applies_only_to_alerts_without_their_own():
    body = {"version": "4", "status": "resolved", "alerts": [
        {"labels": {"alertname": "QueueLong", "store": "store-042"}},
        {"labels": {"alertname": "QueueLong", "store": "store-043"}, "status": "firing"}]}
    without_own, with_own = from_webhook(body)
    assert not without_own.firing
    assert with_own.firing


def test_an_api_v2_alert_has_no_status_so_endsat_decides():
    later, earlier = NOW + timedelta(minutes=4), NOW - timedelta(minutes=1)
    assert one({"alertname": "QueueLong"}, endsAt=later.isoformat()).firing
    assert one({"alertname": "QueueLong"}).firing  # no end given
    ended = one({"alertname": "QueueLong"}, endsAt=earlier.isoformat())
    assert not ended.firing and ended.ends_at == earlier
    assert not one({"alertname": "QueueLong"}, endsAt=NOW.isoformat()).firing  # ends now


def test_an_api_v2_alert_with_the_zero_endsat_is_firing():
    alert = one({"alertname": "QueueLong", "store": "store-042"}, endsAt="0001-01-01T00:00:00Z")
    assert alert.ends_at is None
    assert alert.firing


@pytest.mark.parametrize(("label", "severity"), [
    ("critical", Severity.P0), ("page", Severity.P0), ("P0", Severity.P0), ("CRITICAL", Severity.P0),
    ("high", Severity.P1), ("error", Severity.P1), ("major", Severity.P1), ("p1", Severity.P1),
    ("warning", Severity.P2), ("warn", Severity.P2), ("minor", Severity.P2), ("p2", Severity.P2),
    ("info", Severity.P3), ("none", Severity.P3), ("p3", Severity.P3),
    ("sev-9", Severity.P2), ("", Severity.P2),
])
def test_the_severity_label_maps_to_a_p_level_defaulting_to_p2(label, severity):
    assert one({"alertname": "QueueLong", "severity": label}).severity is severity


def test_an_alert_without_a_severity_label_is_p2():
    assert one({"alertname": "QueueLong"}).severity is Severity.P2


@pytest.mark.parametrize(("labels", "entity"), [
    ({"alertname": "A", "entity": "store-042", "instance": "pos-7:9100", "store": "store-9"}, "store-042"),
    ({"alertname": "A", "instance": "pos-7:9100", "store": "store-042", "job": "pos"}, "pos-7:9100"),
    ({"alertname": "A", "store": "store-042", "job": "pos", "service": "checkout"}, "store-042"),
    ({"alertname": "A", "job": "pos", "service": "checkout"}, "pos"),
    ({"alertname": "A", "service": "checkout"}, "checkout"),
    ({"alertname": "A", "entity": "", "store": "store-042"}, "store-042"),  # empty is skipped
    ({"alertname": "A", "region": "east"}, "A"),
    ({"region": "east"}, "unknown"),
])
def test_the_entity_comes_from_the_most_specific_label(labels, entity):
    assert one(labels).entity == entity


def test_an_alert_without_alertname_is_named_alert_and_without_annotations_has_no_summary():
    alert = one({"store": "store-042"})
    assert (alert.name, alert.summary) == ("alert", "")


def test_the_given_fingerprint_is_kept():
    assert one({"alertname": "A"}, fingerprint="c0ffee1234567890").fingerprint == "c0ffee1234567890"


def test_a_missing_fingerprint_is_computed_from_the_labels_whatever_their_order():
    labels = {"alertname": "StoreNPSLow", "store": "store-042", "severity": "critical"}
    reordered = dict(reversed(list(labels.items())))
    first, second = one(labels), one(reordered)

    assert first.fingerprint == second.fingerprint == fingerprint_of(
        "alertmanager", "alertname=StoreNPSLow", "severity=critical", "store=store-042")
    # Firing and resolved notices of the same series meet on one fingerprint.
    ended = one(reordered, endsAt=(NOW - timedelta(minutes=1)).isoformat())
    assert ended.fingerprint == first.fingerprint and not ended.firing
    # Any label difference is another series.
    assert one(labels | {"store": "store-043"}).fingerprint != first.fingerprint
    assert one(labels | {"region": "east"}).fingerprint != first.fingerprint


def test_times_default_to_now_and_naive_times_are_read_as_utc():
    assert one({"alertname": "A"}).starts_at == NOW
    naive = one({"alertname": "A"}, startsAt="2026-11-03T09:14:00")
    assert naive.starts_at == datetime(2026, 11, 3, 9, 14, tzinfo=timezone.utc)


@pytest.mark.parametrize("alert", [
    {"labels": {}},
    {"labels": {"alertname": "A"}, "status": "pending"},
])
def test_alerts_without_labels_or_with_an_unknown_status_are_refused(alert):
    with pytest.raises(ValidationError):
        API_V2.validate_python([alert])


def test_a_p_level_outside_p0_p3_is_refused_naming_the_alert_other_words_are_p2():
    good = {"labels": {"alertname": "a", "severity": "P1"}}
    odd = {"labels": {"alertname": "b", "severity": "disaster"}}  # a word we do not know: P2
    body = {"version": "4", "status": "firing", "receiver": "r", "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "", "groupKey": "k",
            "alerts": [good, {"labels": {"alertname": "c", "severity": "P4"}}, odd]}
    with pytest.raises(RequestValidationError) as refused:
        alertmanager_alerts(orjson.dumps(body))
    [error] = refused.value.errors()
    assert error["loc"] == ("body", "alerts", 1, "labels", "severity")
    assert "'P4' is outside P0–P3" in error["msg"]
    with pytest.raises(RequestValidationError) as refused:
        alertmanager_alerts(orjson.dumps([good, {"labels": {"severity": "p9"}}]))
    assert refused.value.errors()[0]["loc"] == ("body", 1, "labels", "severity")
    alerts, _ = alertmanager_alerts(orjson.dumps([good, odd]))
    now = datetime.now(timezone.utc)
    assert [a.severity for a in external_alerts(alerts, now, None)] == [Severity.P1, Severity.P2]
