"""What the detector publishes: alerts raised, resolved and acknowledged."""
from __future__ import annotations

from datetime import datetime

from shared.contracts.contract import Contract


class AlertRaised(Contract):
    """An alert fires. Sent again with the same alert_id and a more urgent severity when a
    worse band of its rule holds while it fires (the incident holding it goes up)."""
    PRODUCER, AGGREGATE, EVENT = "detector", "alert", "raised"
    alert_id: str
    fingerprint: str
    source: str  # "rule", "alertmanager", "pagerduty" or "webhook:<source>"
    rule_id: str | None = None
    name: str
    metric: str | None = None
    entity: str
    labels: dict[str, str] = {}
    severity: str  # P0..P3
    value: float | None = None
    threshold: float | None = None
    summary: str = ""
    started_at: datetime
    trial: bool = False  # raised by a rule in trial mode (内部试运行): recorded, nobody told
    # How often the rule evaluates its entity (its interval, else its metric's); none when it
    # evaluates on every sample or the alert came from Alertmanager.
    interval_seconds: float | None = None
    # A predictive alert (a rule's `predict` measure): when the metric is forecast to cross
    # the bound, and how likely that is (0..1); none for alerts on what already happened.
    predicted_crossing_at: datetime | None = None
    confidence: float | None = None


class AlertResolved(Contract):
    PRODUCER, AGGREGATE, EVENT = "detector", "alert", "resolved"
    alert_id: str
    fingerprint: str
    entity: str
    value: float | None = None
    resolved_at: datetime


class AlertAcknowledged(Contract):
    """An outside sender says someone is on the alert (PagerDuty `acknowledge`), once per
    occurrence: the incident its fingerprint leads to is acknowledged as `by`."""
    PRODUCER, AGGREGATE, EVENT = "detector", "alert", "acknowledged"
    alert_id: str
    fingerprint: str
    source: str  # "pagerduty"
    by: str  # who acknowledged, naming the integration: "pagerduty:<integration>"
    acknowledged_at: datetime


class MetricSilent(Contract):
    """An entity of a rule that fired or resolved recently sent no samples of the rule's
    metric for longer than `after_seconds` (three of the rule's evaluation intervals): what
    the rule would say of it is unknown from `last_sample_at` on. Once per silence, keyed like
    AlertRaised by the rule × entity fingerprint (docs/adr/effectiveness-window.md)."""
    PRODUCER, AGGREGATE, EVENT = "detector", "metric", "silent"
    fingerprint: str
    rule_id: str
    name: str  # the rule's name
    metric: str
    entity: str
    last_sample_at: datetime  # the last sample before the silence; unobserved from here on
    after_seconds: float  # how long a silence must last before it is published
    noticed_at: datetime


class MetricResumed(Contract):
    """Samples arrive again for a fingerprint published as silent: no sample was taken between
    `last_sample_at` and `resumed_at` (the first sample after it)."""
    PRODUCER, AGGREGATE, EVENT = "detector", "metric", "resumed"
    fingerprint: str
    rule_id: str
    metric: str
    entity: str
    last_sample_at: datetime
    resumed_at: datetime
    silent_seconds: float  # resumed_at − last_sample_at
