"""Input limits (shared/limits.py): every API refuses what is over a limit, naming the field
and the limit, and the biggest event a request can cause stays far below NATS's max_payload."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from shared import limits
from shared.bus.relay import envelope_for
from shared.http import _message_and_fix, _field
from services.capa.schemas import RootCauseCreate
from services.detector.alertmanager import external_alerts
from services.detector.domain import Alert
from services.detector.ingest import parse_batch
from services.detector.rules import RuleSpec
from services.detector.schemas import AlertmanagerAlert, AlertmanagerWebhook
from services.detector.translate import to_contract
from services.incidents.schemas import IncidentResolve
from services.notifier.schemas import ChannelCreate

NOW = datetime(2026, 11, 3, 9, 30, tzinfo=timezone.utc)
# The costliest character in JSON: a control character is written as \u00XX (6 bytes).
WORST = "\x01"


def refusal(model: type[BaseModel], data: object) -> list[tuple[str, str]]:
    """(field, message) as the API answers them, for data the model must refuse."""
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(model).validate_python(data)
    return [(_field(e["loc"]), _message_and_fix(e)[0]) for e in caught.value.errors()]


def maximal_alert() -> dict:
    labels = {f"{i:03d}".ljust(limits.MAP_KEY, WORST): WORST * limits.LABEL_VALUE
              for i in range(limits.MAP_KEYS - 1)}
    labels["alertname"] = WORST * limits.LABEL_VALUE  # becomes the name and the entity too
    return {"labels": labels, "status": "firing", "fingerprint": WORST * limits.NAME,
            "annotations": {"summary": WORST * limits.ANNOTATION_VALUE,
                            **{f"a{i}": "x" * limits.ANNOTATION_VALUE for i in range(10)}}}


def test_the_biggest_alert_raised_stays_far_below_nats_max_payload():
    # A maximal Alertmanager alert, through the same path the API takes, to the bytes the
    # relay would publish (with the longest X-Request-Id as correlation and causation id).
    (ext,) = external_alerts([AlertmanagerAlert.model_validate(maximal_alert())], NOW, None)
    alert = Alert(fingerprint=ext.fingerprint, source="alertmanager", name=ext.name,
                  entity=ext.entity, rule_id=None, metric=None, labels=ext.labels)
    request_id = WORST * limits.REQUEST_ID
    alert.raise_alert(severity=ext.severity, value=None, threshold=None, summary=ext.summary,
                      started_at=ext.starts_at, at=NOW, actor="alertmanager:admin",
                      cause={"correlation_id": request_id, "causation_id": request_id})
    raised = alert.collect_events()[-1]
    size = len(envelope_for("detector", 10**12, raised, to_contract(raised)).to_bytes())
    labels = limits.MAP_KEYS * (limits.MAP_KEY + limits.LABEL_VALUE)
    user_chars = labels + limits.ANNOTATION_VALUE + 2 * limits.LABEL_VALUE + limits.NAME
    assert size > user_chars * limits.JSON_BYTES_PER_CHAR  # the arithmetic in the ADR holds
    assert size < limits.NATS_MAX_PAYLOAD // 3


def test_one_label_past_its_limit_is_named_with_the_limit():
    alert = maximal_alert()
    alert["labels"]["alertname"] += "x"
    assert refusal(AlertmanagerAlert, alert) == [("labels.alertname", "at most 512 characters")]


def test_an_annotation_past_its_limit_is_named_through_the_webhook_body():
    body = {"alerts": [{"labels": {"alertname": "A"},
                        "annotations": {"description": "x" * (limits.TEXT + 1)}}]}
    assert refusal(AlertmanagerWebhook, body) == [
        ("alerts.0.annotations.description", "at most 4096 characters")]


def test_too_many_labels_and_too_long_a_key_are_named():
    labels = {f"k{i}": "v" for i in range(limits.MAP_KEYS + 1)}
    assert refusal(AlertmanagerAlert, {"labels": labels}) == [("labels", "at most 64 keys")]
    key = "k" * (limits.MAP_KEY + 1)
    (field, message), = refusal(AlertmanagerAlert, {"labels": {key: "v"}})
    assert field == f"labels.{key[:40]}…" and message == "keys: at most 128 characters"


def test_too_many_alerts_in_one_body_is_named():
    body = {"alerts": [{"labels": {"alertname": "A"}}] * (limits.MANY + 1)}
    assert refusal(AlertmanagerWebhook, body) == [("alerts", "at most 1000 items")]


def test_every_service_bounds_its_free_text():
    assert refusal(IncidentResolve, {"by": "ann", "summary": "s" * (limits.TEXT + 1)}) == [
        ("summary", "at most 4096 characters")]
    assert refusal(RootCauseCreate, {"by": "ann", "method": "5whys", "statement": "s",
                                     "whys": ["w" * (limits.TEXT + 1)]}) == [
        ("whys.0", "at most 4096 characters")]
    channel = {"name": "ops", "url": "https://x", "secret": "s" * 16,
               "headers": {"X-Team": "v" * (limits.LABEL_VALUE + 1)}}
    assert refusal(ChannelCreate, channel) == [("headers.X-Team", "at most 512 characters")]
    rule = {"name": "r", "metric": "m", "when": {"value": {}, "below": 1}, "severity": "P0",
            "description": "d" * (limits.TEXT + 1)}
    assert refusal(RuleSpec, rule) == [("description", "at most 4096 characters")]


def test_sample_labels_are_bounded_like_alert_labels_on_the_fast_ingest_path():
    def errors(labels: dict) -> list[tuple[str, str]]:
        body = ('{"samples": [{"metric": "m", "entity": "e", "value": 1, "labels": %s}]}'
                % json.dumps(labels)).encode()
        with pytest.raises(RequestValidationError) as caught:
            parse_batch(body, NOW.timestamp(), 100)
        return [(_field(e["loc"]), _message_and_fix(e)[0]) for e in caught.value.errors()]

    assert errors({"region": "x" * (limits.LABEL_VALUE + 1)}) == [
        ("samples.0.labels.region", "at most 512 characters")]
    assert errors({f"k{i}": "v" for i in range(limits.MAP_KEYS + 1)}) == [
        ("samples.0.labels", "at most 64 keys")]
    assert errors({"k" * (limits.MAP_KEY + 1): "v"})[0][1] == "keys: at most 128 characters"


def test_labels_at_their_limits_are_accepted():
    labels = {f"{i:03d}".ljust(limits.MAP_KEY, "k"): "v" * limits.LABEL_VALUE
              for i in range(limits.MAP_KEYS)}
    assert AlertmanagerAlert.model_validate({"labels": labels}).labels == labels
    body = ('{"samples": [{"metric": "m", "entity": "e", "value": 1, "labels": %s}]}'
            % json.dumps(labels)).encode()
    assert parse_batch(body, NOW.timestamp(), 100).keys == [("m", "e", labels)]
