"""Who and what caused a change: stored on every domain event as `cause`, carried on to the
CloudEvent envelope (correlation/causation ids) and to the trace (W3C traceparent)."""
from __future__ import annotations

from typing import Any

from opentelemetry import propagate, trace

from shared.contracts import CloudEvent


def _traceparent() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def from_request(request_id: str | None = None) -> dict[str, Any]:
    """Cause of a change made through the API (the current span is the HTTP request); the
    request is named after its trace so logs, traces and events can be joined."""
    if request_id is None:
        span = trace.get_current_span().get_span_context()
        request_id = f"req-{span.trace_id:032x}" if span.is_valid else None
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
