"""Deduplication and numbering: which incident an alert fingerprint belongs to, and the
human refs (P0-2026-11-001) issued per severity and month."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.incidents.domain.ids import NAMESPACE
from services.incidents.domain.incident import Severity


def format_ref(severity: Severity, opened_at: datetime, number: int) -> str:
    return f"{severity}-{opened_at:%Y-%m}-{number:03d}"


class FingerprintLink(Aggregate):
    """Remembers, per alert fingerprint, the latest incident and how many there have been."""

    @staticmethod
    def create_id(fingerprint: str) -> UUID:
        return uuid5(NAMESPACE, f"fingerprint:{fingerprint}")

    @event("Started")
    def __init__(self, fingerprint: str, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.fingerprint = fingerprint
        self.occurrences = 0
        self.current_incident_id: UUID | None = None

    @event("IncidentLinked")
    def link(self, incident_id: UUID, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.occurrences += 1
        self.current_incident_id = incident_id


class RefCounter(Aggregate):
    """Issues the sequence numbers of one severity and month; optimistic concurrency on this
    aggregate is what keeps two replicas from issuing the same ref."""

    @staticmethod
    def create_id(severity: str, month: str) -> UUID:
        return uuid5(NAMESPACE, f"ref-counter:{severity}:{month}")

    @event("Started")
    def __init__(self, severity: str, month: str, at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        self.severity, self.month = severity, month
        self.last = 0

    @event("Issued")
    def issue(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.last += 1


class RefIndex(Aggregate):
    """ref → incident id, written in the same save as the incident so lookups never lag."""

    @staticmethod
    def create_id(ref: str) -> UUID:
        return uuid5(NAMESPACE, f"ref:{ref}")

    @event("Registered")
    def __init__(self, ref: str, incident_id: UUID, at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        self.ref, self.incident_id = ref, incident_id
