"""Prometheus Alertmanager payloads (webhook v4 body and API v2 alert list) → plain alerts."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from services.detector.domain import Severity, fingerprint_of
from services.detector.external import ExternalAlert
from services.detector.schemas import AlertmanagerAlert, AlertmanagerWebhook

# Alertmanager has no P-levels; these are the customary severity labels.
SEVERITY_LABELS = {
    "critical": Severity.P0, "page": Severity.P0, "p0": Severity.P0,
    "high": Severity.P1, "error": Severity.P1, "major": Severity.P1, "p1": Severity.P1,
    "warning": Severity.P2, "warn": Severity.P2, "minor": Severity.P2, "p2": Severity.P2,
    "info": Severity.P3, "none": Severity.P3, "p3": Severity.P3,
}
ENTITY_LABELS = ("entity", "instance", "store", "job", "service")
_P_LEVEL = re.compile(r"[pP]\d+")


_WEBHOOK = TypeAdapter(AlertmanagerWebhook)
_API_V2 = TypeAdapter(list[AlertmanagerAlert])


def alertmanager_alerts(body: bytes) -> tuple[list[AlertmanagerAlert], str | None]:
    """A webhook v4 body (an object) or an API v2 alert list (an array) → its alerts and the
    webhook's status. Validated straight from the raw bytes (no json.loads, no dict tree in
    between). Picked by shape first, so errors name the field of the shape sent
    ("alerts.0.annotations.description"), not of both."""
    try:
        if body.lstrip()[:1] == b"[":
            alerts, status, where = _API_V2.validate_json(body), None, ("body",)
        else:
            webhook = _WEBHOOK.validate_json(body)
            alerts, status, where = webhook.alerts, webhook.status, ("body", "alerts")
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
    _check_levels(alerts, where)
    return alerts, status


def _check_levels(alerts: list[AlertmanagerAlert], where: tuple[str, ...]) -> None:
    """A severity label written as a P-level must be one of ours: `P4` is refused (naming the
    alert), not read as the default P2. Other words not in the table are P2 (docs/intake.md)."""
    wrong = [(i, level) for i, alert in enumerate(alerts)
             if (level := alert.labels.get("severity", "")).lower() not in SEVERITY_LABELS
             and _P_LEVEL.fullmatch(level)]
    if wrong:
        raise RequestValidationError([{
            "type": "enum", "loc": (*where, i, "labels", "severity"),
            "msg": f"severity {level!r} is outside P0–P3: label the alert P0, P1, P2 or P3 "
                   "(or critical, high, warning, info)", "input": level} for i, level in wrong])


def sent_states(alerts: list[Any], now: datetime, webhook_status: str | None) -> list[tuple[str, bool]]:
    """(fingerprint, firing) of each alert: all it takes to recognise a re-send, without
    building the whole ExternalAlert."""
    return [(_fingerprint(alert), _firing(alert, _ends_at(alert), now, webhook_status))
            for alert in alerts]


def external_alerts(alerts: list[Any], now: datetime, webhook_status: str | None) -> list[ExternalAlert]:
    """`alerts` are validated AlertmanagerAlert models."""
    out = []
    for alert in alerts:
        labels = dict(alert.labels)
        ends_at = _ends_at(alert)
        out.append(ExternalAlert(
            fingerprint=_fingerprint(alert),
            firing=_firing(alert, ends_at, now, webhook_status),
            name=labels.get("alertname", "alert"),
            entity=next((labels[k] for k in ENTITY_LABELS if labels.get(k)), labels.get("alertname", "unknown")),
            severity=SEVERITY_LABELS.get(labels.get("severity", "").lower(), Severity.P2),
            labels=labels,
            summary=alert.annotations.get("summary") or alert.annotations.get("description", ""),
            starts_at=_utc(alert.startsAt) if alert.startsAt else now,
            ends_at=ends_at,
        ))
    return out


def _fingerprint(alert: Any) -> str:
    return alert.fingerprint or fingerprint_of(
        "alertmanager", *(f"{k}={v}" for k, v in sorted(alert.labels.items())))


def _ends_at(alert: Any) -> datetime | None:
    # Alertmanager sends Go's zero time (year 1) for "no end set".
    return _utc(alert.endsAt) if alert.endsAt and alert.endsAt.year > 1 else None


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _firing(alert: Any, ends_at: datetime | None, now: datetime, webhook_status: str | None) -> bool:
    # API v2 alerts carry no status: an end in the past means resolved.
    status = alert.status or webhook_status
    return status == "firing" if status else ends_at is None or ends_at > now
