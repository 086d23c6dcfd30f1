"""What capa heard about one incident on the bus (opened, acknowledged, severity changes, SLA
breaches, progress, resolution, reopening, closure): the postmortem's timeline and impact,
kept by capa because it may not read the incidents service's tables."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

FACTS_NAMESPACE = uuid5(NAMESPACE_URL, "https://closedloop/capa/incident-facts")


class FactKind(StrEnum):
    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    SEVERITY_CHANGED = "severity_changed"
    SLA_BREACHED = "sla_breached"
    PROGRESS = "progress"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"


@dataclass
class Fact:
    kind: FactKind
    at: datetime  # when it happened at the incidents service, not when capa heard it
    by: str = ""
    data: dict[str, str] = field(default_factory=dict)  # plain strings: what the contract said


class IncidentFacts(Aggregate):
    """One per incident, keyed like its case; facts are kept in the order they happened."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return uuid5(FACTS_NAMESPACE, incident_id)

    @event("Started")
    def __init__(self, incident_id: str, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.incident_id = incident_id
        self.facts: list[Fact] = []

    def record(self, kind: FactKind, happened_at: datetime, by: str, data: dict[str, str], *,
               at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        """False when this fact is known already (the same contract published twice)."""
        if any(f.kind is kind and f.at == happened_at for f in self.facts):
            return False
        self._record(kind.value, happened_at, by, data, at, actor, cause)
        return True

    @event("FactRecorded")
    def _record(self, kind: str, happened_at: datetime, by: str, data: dict[str, str],
                at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.facts.append(Fact(FactKind(kind), happened_at, by, dict(data)))
        self.facts.sort(key=lambda f: f.at)  # the bus may deliver a later fact first

    def first(self, kind: FactKind) -> Fact | None:
        return next((f for f in self.facts if f.kind is kind), None)

    def last(self, kind: FactKind) -> Fact | None:
        return next((f for f in reversed(self.facts) if f.kind is kind), None)
