"""The knowledge entry aggregate (what was seen, how it was investigated and fixed, how it is
prevented) and the incident profile it is recommended against. No I/O; time arrives as `at`."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.capa.domain import NAMESPACE
from shared.errors import DomainError, Invalid, NotFound

# Fields a person may change after creation; the rest comes from the case and stays.
EDITABLE = ("symptom", "investigation", "fix", "prevention", "tags", "root_cause", "category",
            "review_by")


class KnowledgeEntry(Aggregate):
    """One entry per closed case (id from the case id, so a second create finds the first)."""

    EDITABLE_COLUMNS = frozenset(EDITABLE)

    @staticmethod
    def create_id(capa_id: UUID) -> UUID:
        return uuid5(NAMESPACE, f"knowledge:{capa_id}")

    @event("Created")
    def __init__(self, capa_id: str, incident_id: str, ref: str, title: str, entity: str,
                 rule: str | None, labels: dict[str, str], symptom: str,
                 investigation: list[str], fix: str, prevention: str, tags: list[str],
                 root_cause: str, category: str | None, review_by: date, at: datetime,
                 actor: str, cause: dict[str, Any]) -> None:
        self.capa_id, self.incident_id, self.ref, self.title = capa_id, incident_id, ref, title
        self.entity, self.rule, self.labels = entity, rule, dict(labels)
        self.symptom, self.investigation = symptom, list(investigation)
        self.fix, self.prevention, self.tags = fix, prevention, list(tags)
        self.root_cause, self.category, self.review_by = root_cause, category, review_by
        self.created_at = self.updated_at = at
        self.author = actor
        # incident id → whether the recommendation helped there; a later vote replaces it.
        self.feedback: dict[str, bool] = {}

    def edit(self, *, changes: dict[str, Any], at: datetime, actor: str,
             cause: dict[str, Any]) -> None:
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise InvalidKnowledge(unknown[0], f"cannot be edited; editable: {', '.join(EDITABLE)}")
        cleared = sorted(k for k, v in changes.items() if v is None and k != "category")
        if cleared:
            raise InvalidKnowledge(cleared[0], "cannot be cleared: send a value, or leave it out")
        if "symptom" in changes:
            changes["symptom"] = required_symptom(changes["symptom"])
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._edit(changes, at, actor, cause)

    @event("Edited")
    def _edit(self, changes: dict[str, Any], at: datetime, actor: str,
              cause: dict[str, Any]) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self.updated_at = at

    def rate(self, *, incident_id: str, useful: bool, at: datetime, actor: str,
             cause: dict[str, Any]) -> None:
        if self.feedback.get(incident_id) is not useful:
            self._rate(incident_id, useful, at, actor, cause)

    @event("RecommendationRated")
    def _rate(self, incident_id: str, useful: bool, at: datetime, actor: str,
              cause: dict[str, Any]) -> None:
        self.feedback[incident_id] = useful

    @property
    def votes(self) -> tuple[int, int]:
        """(useful, not useful) over the incidents it was recommended for."""
        useful = sum(self.feedback.values())
        return useful, len(self.feedback) - useful

    def is_stale(self, today: date) -> bool:
        return is_stale(self.review_by, today)


class IncidentProfile(Aggregate):
    """What capa knows of an opened incident, to recommend entries for it: title, entity, the
    rule that raised it and its labels (kept from IncidentOpened; capa reads no other service)."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return uuid5(NAMESPACE, f"incident-profile:{incident_id}")

    @event("Noted")
    def __init__(self, incident_id: str, ref: str, title: str, severity: str, entity: str,
                 rule: str | None, labels: dict[str, str], at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        self.incident_id, self.ref, self.title = incident_id, ref, title
        self.severity, self.entity, self.rule, self.labels = severity, entity, rule, dict(labels)


def is_stale(review_by: date, today: date) -> bool:
    """知识评审: an entry whose review date has passed needs someone to re-read it."""
    return review_by < today


def required_symptom(value: str | None) -> str:
    if not value or not value.strip():
        raise InvalidKnowledge("symptom", "must not be empty: describe what was seen, in the "
                                          "words a responder would search for")
    return value.strip()


class InvalidKnowledge(Invalid):
    """An entry whose content breaks a rule (names the field)."""


class KnowledgeNotFound(NotFound):
    """No knowledge entry has this id."""


class IncidentUnknown(NotFound):
    """capa has not heard of this incident opening."""


class CaseNotClosed(DomainError):
    """Knowledge is written from what a closed case proved, not from a case still open."""


class EntryExists(DomainError):
    """A case gives one entry; edit that one."""
