"""W3C trace context through NATS headers (nats-py headers are a plain dict)."""
from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import context, propagate


def inject(headers: dict[str, str], ctx: context.Context | None = None) -> dict[str, str]:
    propagate.inject(headers, context=ctx)
    return headers


def extract(carrier: Mapping[str, str] | None) -> context.Context:
    return propagate.extract(dict(carrier or {}))
