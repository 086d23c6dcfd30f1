"""Detector domain events → public contracts."""
from __future__ import annotations

from typing import Any

from shared.bus.relay import translator
from shared.contracts import (
    AlertAcknowledged, AlertRaised, AlertResolved, MetricResumed, MetricSilent,
)

from services.detector.domain import Alert
from services.detector.silence import MetricSilence


def _raised(e: Any) -> AlertRaised:
    return AlertRaised(
        alert_id=e.alert_id, fingerprint=e.fingerprint, source=e.source, rule_id=e.rule_id,
        name=e.name, metric=e.metric, entity=e.entity, labels=e.labels, severity=e.severity,
        value=e.value, threshold=e.threshold, summary=e.summary, started_at=e.started_at,
        trial=getattr(e, "trial", False), interval_seconds=getattr(e, "interval_seconds", None),
        predicted_crossing_at=getattr(e, "predicted_crossing_at", None),
        confidence=getattr(e, "confidence", None))


def _severity_raised(e: Any) -> AlertRaised:
    """A worse band while firing: the same alert raised again at its worse severity (the
    incident holding it goes up; docs/rules.md)."""
    return AlertRaised(
        alert_id=e.alert_id, fingerprint=e.fingerprint, source=e.source, rule_id=e.rule_id,
        name=e.name, metric=e.metric, entity=e.entity, labels=e.labels, severity=e.severity,
        value=e.value, threshold=e.threshold, summary=e.summary, started_at=e.started_at,
        trial=e.trial, interval_seconds=e.interval_seconds)


def _resolved(e: Any) -> AlertResolved:
    return AlertResolved(alert_id=e.alert_id, fingerprint=e.fingerprint, entity=e.entity,
                         value=e.value, resolved_at=e.resolved_at)


def _acknowledged(e: Any) -> AlertAcknowledged:
    # The actor names the integration ("pagerduty:<integration>"); events stored before the
    # source was recorded came from PagerDuty.
    return AlertAcknowledged(alert_id=e.alert_id, fingerprint=e.fingerprint,
                             source=getattr(e, "source", "pagerduty"), by=e.actor,
                             acknowledged_at=e.at)


def _silent(e: Any) -> MetricSilent:
    return MetricSilent(fingerprint=e.fingerprint, rule_id=e.rule_id, name=e.name,
                        metric=e.metric, entity=e.entity, last_sample_at=e.last_sample_at,
                        after_seconds=e.after_seconds, noticed_at=e.at)


def _resumed(e: Any) -> MetricResumed:
    return MetricResumed(fingerprint=e.fingerprint, rule_id=e.rule_id, metric=e.metric,
                         entity=e.entity, last_sample_at=e.last_sample_at,
                         resumed_at=e.resumed_at, silent_seconds=e.silent_seconds)


_TABLE = {Alert.Raised: _raised, Alert.SeverityRaised: _severity_raised,
          Alert.Resolved: _resolved, Alert.Acknowledged: _acknowledged,
          MetricSilence.Began: _silent, MetricSilence.Ended: _resumed}

to_contract = translator(_TABLE)
