"""The cases of one entity whose root cause has one category (人机料法环测) and whose incident
had one problem type: lets a newly recorded root cause find an earlier closed case of the same
problem without a table (docs/adr/systemic-cases.md)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.capa.domain.recurrence import RECURRENCE_NAMESPACE


def problem_key(category: str, problem_type: str) -> str:
    """The organisation-wide signature of a category and a problem type."""
    return f"problem:{category}:{problem_type}"


class EntityProblems(Aggregate):
    @staticmethod
    def create_id(entity: str, category: str, problem_type: str) -> UUID:
        return uuid5(RECURRENCE_NAMESPACE, f"entity:{entity}:{problem_key(category, problem_type)}")

    @event("Started")
    def __init__(self, entity: str, category: str, problem_type: str, at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        self.entity, self.category, self.problem_type = entity, category, problem_type
        self.cases: list[str] = []

    def note(self, capa_id: str, at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        if capa_id in self.cases:
            return False
        self._note(capa_id, at, actor, cause)
        return True

    @event("CaseNoted")
    def _note(self, capa_id: str, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.cases.append(capa_id)
