"""What the detector publishes: alerts raised, resolved and acknowledged."""
from __future__ import annotations

from datetime import datetime

from shared.contracts.contract import Contract


class AlertRaised(Contract):
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
