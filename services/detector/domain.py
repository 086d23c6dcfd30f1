"""Detector domain: rules, the metric catalogue and the alerts rules raise. Pure: no I/O,
no wall clock."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.contracts.vocabulary import Severity

from shared.errors import DomainError, Invalid, NotFound

NS = uuid5(NAMESPACE_URL, "https://closedloop.dev/detector")
RULEBOOK_ID = uuid5(NS, "rulebook")
CATALOGUE_ID = uuid5(NS, "metric-catalogue")


def fingerprint_of(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


@lru_cache(maxsize=1 << 16)  # each re-sent alert asks again; uuid5 costs microseconds
def alert_id_for(fingerprint: str) -> UUID:
    return uuid5(NS, f"alert:{fingerprint}")


def occurrence_id(fingerprint: str, occurrence: int) -> str:
    """Each firing of the same fingerprint is a distinct alert occurrence."""
    return str(uuid5(NS, f"{fingerprint}:{occurrence}"))


def rule_fingerprint(rule_id: str, entity: str) -> str:
    return fingerprint_of("rule", rule_id, entity)


class Rule(Aggregate):
    """A rule's definition (docs/rules.md) over time: every version is an event, so each
    change says who made it and when. The definition is the rule's JSON form."""

    @event("Defined")
    def __init__(self, definition: dict[str, Any], at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        self.definition = definition
        self.enabled = definition.get("enabled", True)
        self.defined_by = actor

    @property
    def name(self) -> str:
        return self.definition["name"]

    @property
    def metric(self) -> str:
        return self.definition["metric"]

    def redefine(self, definition: dict[str, Any], at: datetime, actor: str,
                 cause: dict[str, Any]) -> bool:
        """Store a new version only when something changed, so applying a file is idempotent."""
        self.check_same_name(definition)
        if definition == self.definition:
            return False
        self._redefined(definition=definition, at=at, actor=actor, cause=cause)
        return True

    @event("Redefined")
    def _redefined(self, definition: dict[str, Any], at: datetime, actor: str,
                   cause: dict[str, Any]) -> None:
        self.definition = definition
        self.enabled = definition.get("enabled", True)

    def check_same_name(self, definition: dict[str, Any]) -> None:
        if definition["name"] != self.name:
            raise Invalid("name", f"a rule keeps its name ('{self.name}'); define a new rule "
                                  "and disable this one to rename it")


class RuleBook(Aggregate):
    """Rule names → ids, so ingestion finds every rule without a read-model lag and names
    stay unique (`closedloop rules apply` matches rules by name)."""

    @event("Opened")
    def __init__(self) -> None:
        self.rule_ids: list[UUID] = []
        self.names: dict[str, UUID] = {}

    def add(self, rule_id: UUID, name: str) -> None:
        if name in self.names:
            raise RuleNameTaken(f"a rule named '{name}' already exists ({self.names[name]}); "
                                "change it with PUT /v1/rules/{id}")
        self._added(rule_id=rule_id, name=name)

    @event("RuleAdded")
    def _added(self, rule_id: UUID, name: str) -> None:
        self.rule_ids.append(rule_id)
        self.names[name] = rule_id

    @classmethod
    def create_id(cls) -> UUID:
        return RULEBOOK_ID


class MetricCatalogue(Aggregate):
    """Declared metrics (name, interval, retention, unit): what rules may refer to."""

    @event("Opened")
    def __init__(self) -> None:
        self.metrics: dict[str, dict[str, Any]] = {}

    def declare(self, metric: dict[str, Any], at: datetime, actor: str,
                cause: dict[str, Any]) -> bool:
        if self.metrics.get(metric["name"]) == metric:
            return False
        self._declared(metric=metric, at=at, actor=actor, cause=cause)
        return True

    @event("MetricDeclared")
    def _declared(self, metric: dict[str, Any], at: datetime, actor: str,
                  cause: dict[str, Any]) -> None:
        self.metrics[metric["name"]] = metric

    @classmethod
    def create_id(cls) -> UUID:
        return CATALOGUE_ID


class Alert(Aggregate):
    """One alert fingerprint over time: raised, resolved, raised again (a new occurrence)."""

    @staticmethod
    def create_id(fingerprint: str, **_: Any) -> UUID:
        return alert_id_for(fingerprint)

    @event("Registered")
    def __init__(self, fingerprint: str, source: str, name: str, entity: str,
                 rule_id: str | None, metric: str | None, labels: dict[str, str]) -> None:
        self.fingerprint, self.source, self.name, self.entity = fingerprint, source, name, entity
        self.rule_id, self.metric, self.labels = rule_id, metric, labels
        self.occurrence = 0
        self.firing = False
        self.severity = Severity.P3.value
        self.value: float | None = None
        self.threshold: float | None = None
        self.summary = ""
        self.started_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.suppressed = 0
        self.verdicts: dict[str, str] = {}  # incident ref → "confirmed" | "false_positive"
        self.acknowledged = 0  # the occurrence a sender last acknowledged (PagerDuty)

    @property
    def current_alert_id(self) -> str:
        return occurrence_id(self.fingerprint, self.occurrence)

    def raise_alert(self, severity: str, value: float | None, threshold: float | None,
                    summary: str, started_at: datetime, at: datetime, actor: str,
                    cause: dict[str, Any], trial: bool = False,
                    interval_seconds: float | None = None,
                    predicted_crossing_at: datetime | None = None,
                    confidence: float | None = None) -> None:
        """`trial`: raised by a rule in trial mode (recorded everywhere, nobody told).
        `interval_seconds`: how often the rule evaluates (none: on every sample).
        `predicted_crossing_at`, `confidence`: a predictive alert's forecast."""
        self.check_not_firing()
        # The event repeats the alert's identity so the public contract needs nothing else.
        self._raised(alert_id=occurrence_id(self.fingerprint, self.occurrence + 1),
                     fingerprint=self.fingerprint, source=self.source, name=self.name,
                     entity=self.entity, rule_id=self.rule_id, metric=self.metric,
                     labels=self.labels, severity=severity, value=value, threshold=threshold,
                     summary=summary, started_at=started_at, at=at, actor=actor, cause=cause,
                     trial=trial, interval_seconds=interval_seconds,
                     **({"predicted_crossing_at": predicted_crossing_at, "confidence": confidence}
                        if predicted_crossing_at is not None else {}))

    @event("Raised")
    def _raised(self, alert_id: str, fingerprint: str, source: str, name: str, entity: str,
                rule_id: str | None, metric: str | None, labels: dict[str, str], severity: str,
                value: float | None, threshold: float | None, summary: str,
                started_at: datetime, at: datetime, actor: str, cause: dict[str, Any],
                trial: bool = False, interval_seconds: float | None = None,
                predicted_crossing_at: datetime | None = None,
                confidence: float | None = None) -> None:
        self.occurrence += 1
        self.firing = True
        self.severity, self.value, self.threshold = severity, value, threshold
        self.trial, self.interval_seconds = trial, interval_seconds
        self.summary, self.started_at, self.resolved_at = summary, started_at, None

    def resolve(self, value: float | None, resolved_at: datetime, at: datetime, actor: str,
                cause: dict[str, Any]) -> None:
        self.check_firing()
        self._resolved(alert_id=self.current_alert_id, fingerprint=self.fingerprint,
                       entity=self.entity, value=value, resolved_at=resolved_at, at=at,
                       actor=actor, cause=cause)

    @event("Resolved")
    def _resolved(self, alert_id: str, fingerprint: str, entity: str, value: float | None,
                  resolved_at: datetime, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.firing = False
        self.value, self.resolved_at = value, resolved_at

    def raise_severity(self, severity: str, value: float | None, summary: str, at: datetime,
                       actor: str, cause: dict[str, Any]) -> bool:
        """A worse band of the rule holds while the alert fires: the alert goes up to it
        (published as AlertRaised again, same alert id, worse severity: the incident goes up
        with it). False when it is not firing or not worse (a re-derived transition)."""
        if not self.firing or severity >= self.severity:  # P0 < P1 < P2 < P3
            return False
        # The event repeats the alert's identity, as Raised does, for the public contract.
        self._severity_raised(alert_id=self.current_alert_id, fingerprint=self.fingerprint,
                              source=self.source, name=self.name, entity=self.entity,
                              rule_id=self.rule_id, metric=self.metric, labels=self.labels,
                              severity=severity, previous=self.severity, value=value,
                              threshold=self.threshold, summary=summary,
                              started_at=self.started_at, at=at, actor=actor, cause=cause,
                              trial=getattr(self, "trial", False),  # older snapshots lack it
                              interval_seconds=getattr(self, "interval_seconds", None))
        return True

    @event("SeverityRaised")
    def _severity_raised(self, alert_id: str, fingerprint: str, source: str, name: str,
                         entity: str, rule_id: str | None, metric: str | None,
                         labels: dict[str, str], severity: str, previous: str,
                         value: float | None, threshold: float | None, summary: str,
                         started_at: datetime, at: datetime, actor: str,
                         cause: dict[str, Any], trial: bool = False,
                         interval_seconds: float | None = None) -> None:
        self.severity, self.value, self.summary = severity, value, summary

    @event("Suppressed")
    def suppress(self, rule_id: str, severity: str, value: float | None, summary: str, started_at: datetime,
                 at: datetime, actor: str, cause: dict[str, Any]) -> None:
        """The rule's alert budget for the day was spent: counted, not raised."""
        self.suppressed += 1

    def acknowledge(self, at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        """The sender says someone is on it (PagerDuty `acknowledge`): published as
        AlertAcknowledged, which acknowledges the incident (docs/adr/alert-sources.md). False
        when the alert is not firing or this occurrence was acknowledged already."""
        # Snapshots taken before acknowledgements existed lack the attribute.
        if not self.firing or getattr(self, "acknowledged", 0) == self.occurrence:
            return False
        self._acknowledged(alert_id=self.current_alert_id, fingerprint=self.fingerprint,
                           source=self.source, at=at, actor=actor, cause=cause)
        return True

    @event("Acknowledged")
    def _acknowledged(self, alert_id: str, fingerprint: str, at: datetime, actor: str,
                      cause: dict[str, Any], source: str = "pagerduty") -> None:
        # `source` defaults for events stored before it was recorded: only PagerDuty acknowledged.
        self.acknowledged = self.occurrence

    @event("Judged")
    def judge(self, fingerprint: str, rule_id: str | None, verdict: str, incident: str, entity: str,
              started_at: datetime | None, resolved_at: datetime | None, at: datetime,
              actor: str, cause: dict[str, Any]) -> None:
        """The incident this alert opened was closed as real or as a false positive."""
        self.verdicts[incident] = verdict

    def withdraw_verdict(self, incident: str, reason: str, at: datetime, actor: str,
                         cause: dict[str, Any]) -> bool:
        """The incident turned out to be a drill: its verdict says nothing of the rule.
        False when it was never judged (a drill flagged before its resolution)."""
        if incident not in self.verdicts:
            return False
        self._withdraw_verdict(fingerprint=self.fingerprint, rule_id=self.rule_id,
                               incident=incident, verdict=self.verdicts[incident],
                               reason=reason, at=at, actor=actor, cause=cause)
        return True

    @event("VerdictWithdrawn")
    def _withdraw_verdict(self, fingerprint: str, rule_id: str | None, incident: str,
                          verdict: str, reason: str, at: datetime, actor: str,
                          cause: dict[str, Any]) -> None:
        self.verdicts.pop(incident, None)

    def check_not_firing(self) -> None:
        if self.firing:
            raise AlertAlreadyFiring(f"alert {self.name} for {self.entity} is already firing")

    def check_firing(self) -> None:
        if not self.firing:
            raise AlertNotFiring(f"alert {self.name} for {self.entity} is not firing")


class RuleNotFound(NotFound):
    pass


class RuleNameTaken(DomainError):
    pass


class AlertAlreadyFiring(DomainError):
    pass


class AlertNotFiring(DomainError):
    pass
