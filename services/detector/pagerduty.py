"""PagerDuty Events API v2 (`POST /v2/enqueue`) → plain alerts, checked and answered as
PagerDuty documents it: one event per request, 202 with the dedup key, 400 `invalid event`
listing what is wrong, bodies up to 512 KB, 429 past an integration's rate limit
(docs/intake.md, docs/adr/alert-sources.md).

Severity, written down once: critical → P0, error → P1, warning → P2, info → P3."""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timezone
from typing import Any

import orjson

from shared.limits import LABEL_VALUE, NAME
from shared.sliding_window import SlidingWindow

from services.detector.alert_sources import PagerDutyIntegration
from services.detector.domain import Severity, fingerprint_of
from services.detector.external import ExternalAlert

MAX_BODY_BYTES = 512 * 1024
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = {"critical": Severity.P0, "error": Severity.P1, "warning": Severity.P2,
              "info": Severity.P3}
DEDUP_KEY = 255
SUMMARY = 1024  # PagerDuty's limit


class InvalidEvent(Exception):
    """400 `invalid event`: `errors` say what is wrong, each naming its field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def read_event(body: bytes, integrations: dict[str, PagerDutyIntegration],
               now: datetime) -> tuple[ExternalAlert, str]:
    """One event → the alert it states and its dedup key (generated for a trigger without
    one). Raises InvalidEvent naming every bad field; nothing is stored before this passes."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidEvent([f"the event is {len(body)} bytes; PagerDuty events are limited "
                            f"to {MAX_BODY_BYTES} bytes (512 KB)"])
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidEvent([f"the body is not valid JSON: {error}"]) from None
    if not isinstance(event, dict):
        raise InvalidEvent(["the event must be a JSON object"])
    errors: list[str] = []
    routing_key, action = event.get("routing_key"), event.get("event_action")
    integration = None
    if not _text(routing_key):
        errors.append("'routing_key' is missing or blank: send the integration key")
    elif (integration := integrations.get(routing_key)) is None:
        errors.append("'routing_key' is not a known integration key: use a key configured "
                      "under pagerduty in the detector's alert sources")
    if action not in ACTIONS:
        errors.append(f"'event_action' is invalid (must be one of: {', '.join(ACTIONS)})")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > DEDUP_KEY):
        errors.append(f"'dedup_key' must be a string of at most {DEDUP_KEY} characters")
    elif action in ("acknowledge", "resolve") and not _text(dedup_key):
        errors.append(f"'dedup_key' is missing or blank: {action} needs the key of the alert")
    payload = _payload(event, action, errors)
    if errors:
        raise InvalidEvent(errors)
    assert integration is not None
    dedup_key = dedup_key if _text(dedup_key) else uuid.uuid4().hex  # PagerDuty makes one too
    fingerprint = fingerprint_of("pagerduty", integration.name, dedup_key)
    labels = {**integration.labels, "integration": integration.name,
              "dedup_key": dedup_key[:LABEL_VALUE]}
    if action != "trigger":
        return ExternalAlert(fingerprint=fingerprint, firing=False, name="", entity="",
                             severity=Severity.P3, labels=labels, summary="", starts_at=now,
                             ends_at=now, source="pagerduty",
                             acknowledge=action == "acknowledge"), dedup_key
    for part in ("component", "group", "class"):
        if payload.get(part):
            labels[part] = payload[part][:LABEL_VALUE]
    summary = payload["summary"]
    return ExternalAlert(
        fingerprint=fingerprint, firing=True,
        name=(payload.get("class") or summary)[:NAME], entity=payload["source"],
        severity=SEVERITIES[payload["severity"]], labels=labels, summary=summary,
        starts_at=payload.get("timestamp") or now, ends_at=None, source="pagerduty"), dedup_key


class Throttle:
    """Each integration's rate limit, counted like PagerDuty's: accepted events over a window
    looking back from now, on the detector's clock. Per process (docs/adr/alert-sources.md)."""

    def __init__(self, integrations: list[PagerDutyIntegration]) -> None:
        self._windows = {i.name: (i, SlidingWindow(i.limit[1]))
                         for i in integrations if i.limit is not None}

    def refusal(self, integration: str, at: datetime) -> tuple[dict[str, str], str] | None:
        """None: the event is counted and goes in; else the 429 body and its Retry-After
        (whole seconds, at least 1)."""
        found = self._windows.get(integration)
        if found is None:
            return None
        configured, window = found
        assert configured.limit is not None
        wait = window.admit(at, configured.limit[0])
        if wait is None:
            return None
        seconds = max(1, math.ceil(wait.total_seconds()))
        return {"status": "throttle event",
                "message": f"'routing_key' of integration {integration} is past its rate limit "
                           f"({configured.rate_limit}): retry in {seconds} s, or raise "
                           "rate_limit for it in the detector's alert sources"}, str(seconds)


def _payload(event: dict, action: Any, errors: list[str]) -> dict[str, Any]:
    """A trigger's payload, checked; acknowledge and resolve ignore it, as PagerDuty does."""
    if action != "trigger":
        return {}
    payload = event.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or not an object: a trigger needs payload.summary, "
                      "payload.source and payload.severity")
        return {}
    checked = dict(payload)
    summary, source, severity = payload.get("summary"), payload.get("source"), payload.get("severity")
    if not _text(summary):
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > SUMMARY:
        errors.append(f"'payload.summary' is {len(summary)} characters; at most {SUMMARY}")
    if not _text(source):
        errors.append("'payload.source' is missing or blank: name the affected system")
    elif len(source) > NAME:
        errors.append(f"'payload.source' is {len(source)} characters; at most {NAME}")
    if not _text(severity):
        errors.append("'payload.severity' is missing or blank")
    elif severity not in SEVERITIES:
        errors.append("'payload.severity' is invalid (must be one of: critical, error, "
                      "warning, info)")
    for part in ("component", "group", "class"):
        if payload.get(part) is not None and not isinstance(payload[part], str):
            errors.append(f"'payload.{part}' must be a string")
            checked.pop(part)
    stamp = payload.get("timestamp")
    checked["timestamp"] = None
    if stamp is not None:
        try:
            at = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
        except ValueError:
            at = None
        if at is None:
            errors.append("'payload.timestamp' must be an ISO 8601 timestamp, e.g. "
                          "2015-07-17T08:42:58.315+0000")
        else:
            checked["timestamp"] = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    if payload.get("custom_details") is not None and not isinstance(payload["custom_details"], dict):
        errors.append("'payload.custom_details' must be an object")
    return checked


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def success(dedup_key: str) -> dict[str, str]:
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def invalid(errors: list[str]) -> dict[str, Any]:
    return {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
