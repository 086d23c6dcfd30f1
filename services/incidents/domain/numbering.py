"""Deduplication and numbering: which incident an alert fingerprint belongs to, and the
human refs (P0-2026-11-001) issued per severity and month. The numbers themselves are issued
by the store with the incident (docs/adr/incident-refs.md); RefCounter and RefIndex are how
releases before that numbered, kept so their stored events still load and their refs resolve."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.incidents.domain.ids import NAMESPACE
from services.incidents.domain.incident import Severity


def ref_scope(severity: Severity | str, opened_at: datetime) -> str:
    """What refs are numbered within: one severity in one month (P1-2026-12)."""
    return f"{severity}-{opened_at:%Y-%m}"


def format_ref(severity: Severity | str, opened_at: datetime, number: int) -> str:
    return f"{ref_scope(severity, opened_at)}-{number:03d}"


def parse_ref(ref: str) -> tuple[str, int] | None:
    """P1-2026-12-007 → ("P1-2026-12", 7); None unless written as format_ref writes it."""
    scope, _, digits = ref.upper().rpartition("-")
    if not digits.isdigit() or f"{scope}-{int(digits):03d}" != ref.upper():
        return None
    return scope, int(digits)


class FingerprintLink(Aggregate):
    """Remembers, per alert fingerprint, the latest incident and how many there have been,
    and every incident its alerts went to: with grouping and storms (grouping.py, storm.py)
    that is not always the incident its fingerprint would open."""

    incident_ids = ()  # no annotation: eventsourcing would take it for a field

    @staticmethod
    def create_id(fingerprint: str) -> UUID:
        return uuid5(NAMESPACE, f"fingerprint:{fingerprint}")

    @event("Started")
    def __init__(self, fingerprint: str, at: datetime, actor: str, cause: dict[str, Any],
                 first_incident_id: UUID | None = None) -> None:
        # Started with its first incident: one event, not two, for each new fingerprint
        # (links stored before carry no first incident and are linked by IncidentLinked).
        self.fingerprint = fingerprint
        self.occurrences = 0 if first_incident_id is None else 1
        self.current_incident_id: UUID | None = first_incident_id
        if first_incident_id is not None:
            self.incident_ids = (first_incident_id,)

    @event("IncidentLinked")
    def link(self, incident_id: UUID, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.occurrences += 1
        self.current_incident_id = incident_id
        self.incident_ids = (*self.incident_ids, incident_id)


class RefCounter(Aggregate):
    """Legacy, no longer written: issued the numbers of one severity and month, one event per
    incident, so every incident of a batch read and changed this one aggregate. Its `last` is
    where the store's numbering of that month goes on from."""

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
    """Legacy, no longer written: ref → incident id of the refs RefCounter issued (the store's
    numbers record the owner of each number they issue)."""

    @staticmethod
    def create_id(ref: str) -> UUID:
        return uuid5(NAMESPACE, f"ref:{ref}")

    @event("Registered")
    def __init__(self, ref: str, incident_id: UUID, at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        self.ref, self.incident_id = ref, incident_id
