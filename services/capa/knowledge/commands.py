"""Knowledge commands on the capa application (get → call → save): note an opened incident,
write an entry from a closed case, edit it, and rate a recommendation."""
from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from services.capa.app import SYSTEM_ACTOR, CapaApplication
from services.capa.domain import ActionKind, CapaCase, CapaNotFound, CaseStatus
from services.capa.knowledge.aggregate import (
    CaseNotClosed, EntryExists, IncidentProfile, IncidentUnknown, KnowledgeEntry,
    KnowledgeNotFound, required_symptom,
)
from shared import causation
from shared.contracts import CloudEvent, IncidentOpened
from shared.store import Tracking

REVIEW_AFTER = timedelta(days=180)  # default 知识评审 interval: two quarters of change


class Knowledge:
    def __init__(self, app: CapaApplication) -> None:
        self.app = app

    def note_incident(self, envelope: CloudEvent, contract: IncidentOpened,
                      tracking: Tracking) -> None:
        self.app.save_tracked(*self.profile_of(envelope, contract), tracking=tracking)

    def profile_of(self, envelope: CloudEvent, contract: IncidentOpened) -> list[IncidentProfile]:
        """The incident's profile to save, or [] when it is known (redelivered) or names no
        incident; separate from saving so another IncidentOpened handler can save it with its
        own aggregates under the message's one tracking row."""
        if not contract.incident_id.strip():
            return []
        if self.app.get_or_none(IncidentProfile.create_id(contract.incident_id)) is not None:
            return []
        return [IncidentProfile(
            incident_id=contract.incident_id, ref=contract.ref, title=contract.title,
            severity=contract.severity, entity=contract.entity,
            rule=contract.labels.get("alertname"), labels=dict(contract.labels),
            at=self.app.clock.now(), actor=SYSTEM_ACTOR, cause=causation.from_message(envelope))]

    def create_from_case(self, capa_id: UUID, *, by: str, cause: dict[str, Any],
                         symptom: str | None, **given: Any) -> dict[str, Any]:
        """Fields not given are prefilled from the case: root cause and its whys, corrective
        actions as the fix, preventive ones as the prevention; rule and labels from the
        incident's opening when capa heard it."""
        symptom = required_symptom(symptom)
        case: CapaCase | None = self.app.get_or_none(capa_id)
        if case is None:
            raise CapaNotFound(f"no CAPA case has id {capa_id}", field="capa_id")
        if case.status is not CaseStatus.CLOSED:
            raise CaseNotClosed(f"{case.name} is still open: knowledge is written from a closed "
                                "case, whose fix was verified")
        entry_id = KnowledgeEntry.create_id(capa_id)
        if self.app.get_or_none(entry_id) is not None:
            raise EntryExists(f"{case.name} already has knowledge entry {entry_id}; edit it")
        profile = self.app.get_or_none(IncidentProfile.create_id(case.incident_id))
        root = case.root_cause

        def titles(kind: ActionKind) -> str:
            return "; ".join(a.title for a in case.actions.values() if a.kind is kind)

        now = self.app.clock.now()
        entry = KnowledgeEntry(
            capa_id=str(capa_id), incident_id=case.incident_id, ref=case.ref, title=case.title,
            entity=case.entity, rule=profile.rule if profile else None,
            labels=profile.labels if profile else {}, symptom=symptom,
            investigation=given.get("investigation") or (list(root.whys) if root else []),
            fix=given.get("fix") or titles(ActionKind.CORRECTIVE),
            prevention=given.get("prevention") or titles(ActionKind.PREVENTIVE),
            tags=given.get("tags") or [],
            root_cause=given.get("root_cause") or (root.statement if root else ""),
            category=given.get("category") or (root.category.value if root and root.category
                                               else None),
            review_by=given.get("review_by") or (now + REVIEW_AFTER).date(),
            at=now, actor=by, cause=cause)
        self.app.save(entry)
        return read(entry)

    def edit(self, entry_id: UUID, *, by: str, cause: dict[str, Any],
             changes: dict[str, Any]) -> dict[str, Any]:
        return read(self._change(entry_id, lambda entry, at: entry.edit(
            changes=changes, at=at, actor=by, cause=cause)))

    def rate(self, entry_id: UUID, *, incident_id: str, useful: bool, by: str,
             cause: dict[str, Any]) -> dict[str, Any]:
        if self.app.get_or_none(IncidentProfile.create_id(incident_id)) is None:
            raise IncidentUnknown(f"capa has not heard of incident {incident_id} opening",
                                  field="incident_id")
        return read(self._change(entry_id, lambda entry, at: entry.rate(
            incident_id=incident_id, useful=useful, at=at, actor=by, cause=cause)))

    def _change(self, entry_id: UUID, command: Any) -> KnowledgeEntry:
        def attempt() -> KnowledgeEntry:
            entry = self.app.get_or_none(entry_id)
            if not isinstance(entry, KnowledgeEntry):
                raise KnowledgeNotFound(f"no knowledge entry has id {entry_id}")
            command(entry, self.app.clock.now())
            self.app.save(entry)
            return entry

        return self.app.retry_on_conflict(attempt)


def read(entry: KnowledgeEntry) -> dict[str, Any]:
    useful, not_useful = entry.votes
    return {"id": entry.id, "capa_id": entry.capa_id, "incident_id": entry.incident_id,
            "ref": entry.ref, "title": entry.title, "entity": entry.entity, "rule": entry.rule,
            "labels": entry.labels, "symptom": entry.symptom,
            "investigation": entry.investigation, "fix": entry.fix,
            "prevention": entry.prevention, "tags": entry.tags, "root_cause": entry.root_cause,
            "category": entry.category, "review_by": entry.review_by, "useful": useful,
            "not_useful": not_useful, "author": entry.author, "created_at": entry.created_at,
            "updated_at": entry.updated_at}
