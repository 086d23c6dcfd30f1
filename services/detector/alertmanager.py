"""Prometheus Alertmanager payloads (webhook v4 body and API v2 alert list) → plain alerts."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from services.detector.domain import Severity, fingerprint_of
from services.detector.schemas import AlertmanagerAlert, AlertmanagerWebhook

# Alertmanager has no P-levels; these are the customary severity labels.
SEVERITY_LABELS = {
    "critical": Severity.P0, "page": Severity.P0, "p0": Severity.P0,
    "high": Severity.P1, "error": Severity.P1, "major": Severity.P1, "p1": Severity.P1,
    "warning": Severity.P2, "warn": Severity.P2, "minor": Severity.P2, "p2": Severity.P2,
    "info": Severity.P3, "none": Severity.P3, "p3": Severity.P3,
}
ENTITY_LABELS = ("entity", "instance", "store", "job", "service")


_WEBHOOK = TypeAdapter(AlertmanagerWebhook)
_API_V2 = TypeAdapter(list[AlertmanagerAlert])


def alertmanager_alerts(body: Any) -> tuple[list[AlertmanagerAlert], str | None]:
    """A webhook v4 body (an object) or an API v2 alert list (an array) → its alerts and the
    webhook's status. Picked by shape first, so errors name the field of the shape sent
    ("alerts.0.annotations.description"), not of both."""
    try:
        if isinstance(body, list):
            return _API_V2.validate_python(body), None
        webhook = _WEBHOOK.validate_python(body)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
    return webhook.alerts, webhook.status


@dataclass(frozen=True)
class ExternalAlert:
    fingerprint: str
    firing: bool
    name: str
    entity: str
    severity: Severity
    labels: dict[str, str]
    summary: str
    starts_at: datetime
    ends_at: datetime | None


def external_alerts(alerts: list[Any], now: datetime, webhook_status: str | None) -> list[ExternalAlert]:
    """`alerts` are validated AlertmanagerAlert models; API v2 alerts carry no status, so an
    `endsAt` in the past means resolved."""
    out = []
    for alert in alerts:
        labels = dict(alert.labels)
        status = alert.status or webhook_status
        # Alertmanager sends Go's zero time (year 1) for "no end set".
        ends_at = alert.endsAt if alert.endsAt and alert.endsAt.year > 1 else None
        firing = status == "firing" if status else ends_at is None or ends_at > now
        out.append(ExternalAlert(
            fingerprint=alert.fingerprint or fingerprint_of(
                "alertmanager", *(f"{k}={v}" for k, v in sorted(labels.items()))),
            firing=firing,
            name=labels.get("alertname", "alert"),
            entity=next((labels[k] for k in ENTITY_LABELS if labels.get(k)), labels.get("alertname", "unknown")),
            severity=SEVERITY_LABELS.get(labels.get("severity", "").lower(), Severity.P2),
            labels=labels,
            summary=alert.annotations.get("summary") or alert.annotations.get("description", ""),
            starts_at=alert.startsAt or now,
            ends_at=ends_at,
        ))
    return out
