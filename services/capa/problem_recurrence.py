"""Recurrence by root-cause category and problem type (docs/adr/systemic-cases.md): when a
case's root cause is recorded with a category, an earlier case on the same entity that closed
within the recurrence period with the same category, and whose incident had the same problem
type, is linked to the new case as a recurrence, and counted toward a systemic problem of that
category and type. Learns the problem type from the incident's opening (IncidentFacts)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from services.capa.domain import CapaCase, CaseStatus
from services.capa.domain.incident_facts import FactKind, IncidentFacts
from services.capa.domain.problem_index import EntityProblems, problem_key
from services.capa.domain.recurrence import Occurrence, RuleSignature
from services.capa.recurrence import SYSTEM_ACTOR, Recurrence


class ProblemRecurrence:
    def __init__(self, app: Any, recurrence: Recurrence) -> None:
        self.app, self.recurrence = app, recurrence

    def on_root_cause(self, case: CapaCase, at: datetime, cause: dict[str, Any]) -> list[Any]:
        """The aggregates to save with the case (the case itself excluded)."""
        root_cause = case.root_cause
        if root_cause is None or root_cause.category is None or case.drill:
            return []
        facts = self.app.get_or_none(IncidentFacts.create_id(case.incident_id))
        opened = facts.first(FactKind.OPENED) if facts is not None else None
        problem_type = opened.data.get("problem_type") if opened is not None else None
        if opened is None or not problem_type:
            return []  # no problem type heard: only the alert's signature can recur
        category = root_cause.category.value
        index = self.app.get_or_none(EntityProblems.create_id(
            case.entity, category, problem_type)) or EntityProblems(
            entity=case.entity, category=category, problem_type=problem_type, at=at,
            actor=SYSTEM_ACTOR, cause=cause)
        if not index.note(str(case.id), at, SYSTEM_ACTOR, cause):
            return []  # a revision with the same category: counted once
        previous = self._previous(index, case, category, opened.at)
        if previous is None or previous.closed_at is None or not case.link_problem_recurrence(
                {"capa_id": str(previous.id), "ref": previous.ref,
                 "closed_at": previous.closed_at,
                 "after_seconds": (opened.at - previous.closed_at).total_seconds()},
                category, problem_type, at, SYSTEM_ACTOR, cause):
            return [index]
        return [index, *self._count(case, previous, category, problem_type, opened.at, at,
                                    cause)]

    def _previous(self, index: EntityProblems, case: CapaCase, category: str,
                  opened_at: datetime) -> CapaCase | None:
        """The latest case of the index that closed within the period before the incident
        opened, with the category still its root cause's (a revision may have changed it);
        cases already linked by the alert's signature are that path's business."""
        linked = set(case.previous_cases)
        ids = [UUID(i) for i in index.cases if i != str(case.id) and i not in linked]
        period = self.recurrence.policy.period
        found = [c for c in (self.app.get_or_none(i) for i in ids)
                 if isinstance(c, CapaCase) and not c.drill and c.status is CaseStatus.CLOSED
                 and c.closed_at is not None and c.root_cause is not None
                 and c.root_cause.category is not None
                 and c.root_cause.category.value == category
                 and c.closed_at <= opened_at <= c.closed_at + period]
        return max(found, key=lambda c: c.closed_at) if found else None

    def _count(self, case: CapaCase, previous: CapaCase, category: str, problem_type: str,
               opened_at: datetime, at: datetime, cause: dict[str, Any]) -> list[Any]:
        """One recurrence of the category × type across the organisation."""
        key, name = problem_key(category, problem_type), f"{category} × {problem_type}"
        signature = self.app.get_or_none(RuleSignature.create_id(name, key)) or RuleSignature(
            rule=name, at=at, actor=SYSTEM_ACTOR, cause=cause, key=key)
        if signature.knows(case.incident_id):
            return []
        occurrence = Occurrence(case.incident_id, case.ref, case.entity, opened_at,
                                str(case.id), str(previous.id))
        return self.recurrence.count(signature, occurrence, recurrence=True, at=at,
                                     cause=cause)
