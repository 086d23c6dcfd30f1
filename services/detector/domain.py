"""Detector domain: threshold rules and the alerts they raise. Pure: no I/O, no wall clock."""
from __future__ import annotations

import hashlib
import math
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared.contracts.vocabulary import Severity

from shared.errors import DomainError, Invalid, NotFound

NS = uuid5(NAMESPACE_URL, "https://closedloop.dev/detector")
RULEBOOK_ID = uuid5(NS, "rulebook")


class Operator(StrEnum):
    ABOVE = "above"  # fires when value > threshold
    BELOW = "below"  # fires when value < threshold

    def fires(self, value: float, threshold: float) -> bool:
        return value > threshold if self is Operator.ABOVE else value < threshold


def fingerprint_of(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def alert_id_for(fingerprint: str) -> UUID:
    return uuid5(NS, f"alert:{fingerprint}")


def occurrence_id(fingerprint: str, occurrence: int) -> str:
    """Each firing of the same fingerprint is a distinct alert occurrence."""
    return str(uuid5(NS, f"{fingerprint}:{occurrence}"))


class Rule(Aggregate):
    """A threshold rule over one metric; `labels` narrows which series it watches."""

    @event("Defined")
    def __init__(self, name: str, metric: str, operator: str, threshold: float, severity: str,
                 labels: dict[str, str], description: str, at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        check_threshold(threshold)
        self.name, self.metric, self.operator = name, metric, operator
        self.threshold, self.severity, self.labels = threshold, severity, labels
        self.description = description
        self.enabled = True
        self.defined_by = actor

    @event("Changed")
    def change(self, threshold: float, severity: str, description: str, at: datetime,
               actor: str, cause: dict[str, Any]) -> None:
        check_threshold(threshold)
        self.threshold, self.severity, self.description = threshold, severity, description

    @event("Disabled")
    def disable(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.enabled = False

    @event("Enabled")
    def enable(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.enabled = True

    def watches(self, metric: str, labels: dict[str, str]) -> bool:
        return self.enabled and metric == self.metric and all(
            labels.get(k) == v for k, v in self.labels.items())

    def fires(self, value: float) -> bool:
        return Operator(self.operator).fires(value, self.threshold)

    def fingerprint(self, entity: str) -> str:
        return fingerprint_of("rule", str(self.id), entity)


class RuleBook(Aggregate):
    """The list of rule ids, so ingestion finds every rule without a read-model lag."""

    @event("Opened")
    def __init__(self) -> None:
        self.rule_ids: list[UUID] = []

    @event("RuleAdded")
    def add(self, rule_id: UUID) -> None:
        self.rule_ids.append(rule_id)

    @classmethod
    def create_id(cls) -> UUID:
        return RULEBOOK_ID


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

    @property
    def current_alert_id(self) -> str:
        return occurrence_id(self.fingerprint, self.occurrence)

    def raise_alert(self, severity: str, value: float | None, threshold: float | None,
                    summary: str, started_at: datetime, at: datetime, actor: str,
                    cause: dict[str, Any]) -> None:
        self.check_not_firing()
        # The event repeats the alert's identity so the public contract needs nothing else.
        self._raised(alert_id=occurrence_id(self.fingerprint, self.occurrence + 1),
                     fingerprint=self.fingerprint, source=self.source, name=self.name,
                     entity=self.entity, rule_id=self.rule_id, metric=self.metric,
                     labels=self.labels, severity=severity, value=value, threshold=threshold,
                     summary=summary, started_at=started_at, at=at, actor=actor, cause=cause)

    @event("Raised")
    def _raised(self, alert_id: str, fingerprint: str, source: str, name: str, entity: str,
                rule_id: str | None, metric: str | None, labels: dict[str, str], severity: str,
                value: float | None, threshold: float | None, summary: str,
                started_at: datetime, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.occurrence += 1
        self.firing = True
        self.severity, self.value, self.threshold = severity, value, threshold
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

    def check_not_firing(self) -> None:
        if self.firing:
            raise AlertAlreadyFiring(f"alert {self.name} for {self.entity} is already firing")

    def check_firing(self) -> None:
        if not self.firing:
            raise AlertNotFiring(f"alert {self.name} for {self.entity} is not firing")


def check_threshold(threshold: float) -> None:
    if not math.isfinite(threshold):
        raise Invalid("threshold", "must be a finite number")


class RuleNotFound(NotFound):
    pass


class AlertAlreadyFiring(DomainError):
    pass


class AlertNotFiring(DomainError):
    pass
