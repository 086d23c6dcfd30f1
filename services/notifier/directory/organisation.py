"""The organisation's own aggregate: it lists every person, team and unit (so the whole
organisation loads with get() calls, without a table read) and holds its settings: which
alert labels name units, in the order they are tried."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.directory.errors import InvalidOrganisation

ORGANISATION_ID = key_id("organisation")


class Organisation(Aggregate):
    @staticmethod
    def create_id() -> UUID:
        return ORGANISATION_ID

    @event("Opened")
    def __init__(self, at: datetime, actor: str, cause: Cause) -> None:
        self.person_ids: list[str] = []
        self.team_ids: list[str] = []
        self.unit_ids: list[str] = []
        self.entity_labels: list[str] = []
        self.updated_at, self.updated_by = at, actor

    @property
    def listed_ids(self) -> list[UUID]:
        return [UUID(i) for i in self.person_ids + self.team_ids + self.unit_ids]

    def list_person(self, person_id: UUID, at: datetime, actor: str, cause: Cause) -> None:
        if str(person_id) not in self.person_ids:
            self._list_person(person_id=str(person_id), at=at, actor=actor, cause=cause)

    def list_team(self, team_id: UUID, at: datetime, actor: str, cause: Cause) -> None:
        if str(team_id) not in self.team_ids:
            self._list_team(team_id=str(team_id), at=at, actor=actor, cause=cause)

    def list_unit(self, unit_id: UUID, at: datetime, actor: str, cause: Cause) -> None:
        if str(unit_id) not in self.unit_ids:
            self._list_unit(unit_id=str(unit_id), at=at, actor=actor, cause=cause)

    def set_entity_labels(self, labels: list[str], at: datetime, actor: str,
                          cause: Cause) -> bool:
        labels = [str(label) for label in labels]
        if any(not label.strip() for label in labels) or len(set(labels)) != len(labels):
            raise InvalidOrganisation("entity_labels", "list each label once, in the order "
                                      "they are tried, e.g. [store, region]")
        if labels == self.entity_labels:
            return False
        self._set_entity_labels(labels=labels, at=at, actor=actor, cause=cause)
        return True

    @event("PersonListed")
    def _list_person(self, person_id: str, at: datetime, actor: str, cause: Cause) -> None:
        self.person_ids.append(person_id)

    @event("TeamListed")
    def _list_team(self, team_id: str, at: datetime, actor: str, cause: Cause) -> None:
        self.team_ids.append(team_id)

    @event("UnitListed")
    def _list_unit(self, unit_id: str, at: datetime, actor: str, cause: Cause) -> None:
        self.unit_ids.append(unit_id)

    @event("EntityLabelsSet")
    def _set_entity_labels(self, labels: list[str], at: datetime, actor: str,
                           cause: Cause) -> None:
        self.entity_labels = labels
        self.updated_at, self.updated_by = at, actor
