"""What the RACI rules add to an incident's opening: its staffing, its respond and resolve
deadlines, and the people told at once (R and A paged, I informed), merged with the ladder's
step 0 so that a person is sent one message however many reasons name them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifier.config_cache import Routing
from services.notifier.directory.chart import OrgChart
from services.notifier.raci.deadline import Deadline
from services.notifier.raci.reach import Why, reach
from services.notifier.raci.rules import Raci, RaciRules
from services.notifier.raci.staffing import Staffing, find_people
from services.notifier.recipients import Recipient

TOLD_AT_OPENING = (Raci.RESPONSIBLE, Raci.ACCOUNTABLE, Raci.INFORMED)


@dataclass(frozen=True)
class StaffedOpening:
    staffing: Staffing | None = None
    deadlines: list[Deadline] = field(default_factory=list)
    chart: OrgChart | None = None  # the organisation it was staffed from

    @property
    def ids(self) -> list[UUID]:
        """What the opening creates (a redelivered message finds them existing)."""
        return [a.id for a in self.created]

    @property
    def created(self) -> list[Any]:
        return [self.staffing, *self.deadlines] if self.staffing is not None else []

    def new(self, existing: set[UUID], deadlines: bool = True) -> list[Any]:
        """What is not stored yet; without the deadlines when nobody is to be chased (the
        incident's notifications are held)."""
        return [a for a in self.created if a.id not in existing
                and (deadlines or not isinstance(a, Deadline))]

    def recipients(self, ladder: list[Recipient], routing: Routing) -> list[Recipient]:
        """The ladder's step 0, then the RACI people it did not already reach."""
        merged = {r.key: r for r in ladder}
        if self.staffing is not None:
            for letter in TOLD_AT_OPENING:
                for recipient in reach(self.staffing.people(letter), Why("raci", letter),
                                       self.chart, routing):
                    merged.setdefault(recipient.key, recipient)
        return list(merged.values())


class OpeningPlan:
    """The opening decided for each configuration it is asked with (a handler asks with the
    cached configuration, then again once it is refreshed), each made once: the organisation
    is read only when a matrix row applies, so incidents without one cost nothing more."""

    def __init__(self, decide: Callable[[RaciRules | None], StaffedOpening]) -> None:
        self._decide = decide
        self._made: dict[int | None, StaffedOpening] = {}

    def of(self, routing: Routing) -> StaffedOpening:
        rules = routing.raci
        key = rules.version if rules is not None else None
        if key not in self._made:
            self._made[key] = self._decide(rules)
        return self._made[key]


def plan_opening(rules: RaciRules | None, chart: Callable[[], OrgChart],
                 incident: dict[str, str], labels: dict[str, str] | None,
                 respond_by: datetime, resolve_by: datetime, opened_at: datetime,
                 at: datetime, actor: str, cause: dict) -> StaffedOpening:
    """Nothing when no matrix row covers the severity: the incident is staffed by hand."""
    row = rules.roles_for(incident["severity"]) if rules is not None else None
    if row is None:
        return StaffedOpening()
    organisation = chart()
    found = find_people(organisation, incident["entity"], labels, row)
    staffing = Staffing.record(incident=with_unit(incident, organisation, found.unit),
                               found=found, at=at, actor=actor, cause=cause)
    deadlines = [staffing.deadline(key=kind, kind=kind, subject=None, started_at=opened_at,
                                   due_at=due_at, responsible=staffing.responsible,
                                   settings=rules.deadlines, at=at, actor=actor, cause=cause)
                 for kind, due_at in (("respond", respond_by), ("resolve", resolve_by))]
    return StaffedOpening(staffing, deadlines, organisation)


def with_unit(incident: dict[str, Any], chart: OrgChart, key: str | None) -> dict[str, Any]:
    """The incident with the unit its entity was placed in among its facts: messages name
    the store (深圳宝安店), not only its key. Read here, where the organisation is read anyway."""
    unit = chart.units.get(key) if key else None
    if unit is None or incident.get("facts") is None:
        return incident
    return {**incident, "facts": {**incident["facts"],
                                  "unit": {"key": unit["key"], "name": unit["name"]}}}
