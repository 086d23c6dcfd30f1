"""Who and what caused a change: stored on every domain event as `cause`, carried on to the
CloudEvent envelope (correlation/causation ids) and to the trace (W3C traceparent)."""
from __future__ import annotations

from typing import Any

from opentelemetry import propagate

from shared.contracts import CloudEvent


def _traceparent() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def from_request(request_id: str | None = None) -> dict[str, Any]:
    """Cause of a change made through the API (the current span is the HTTP request)."""
    return {"correlation_id": request_id, "causation_id": request_id, "trace": _traceparent()}


def from_message(envelope: CloudEvent) -> dict[str, Any]:
    """Cause of a change made while handling a message from the bus."""
    return {
        "correlation_id": envelope.correlationid or envelope.id,
        "causation_id": envelope.id,
        "trace": _traceparent(),
    }


def from_timer(name: str) -> dict[str, Any]:
    return {"correlation_id": None, "causation_id": name, "trace": _traceparent()}
