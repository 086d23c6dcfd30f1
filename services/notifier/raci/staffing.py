"""Who an incident's RACI letters name: the matrix row for its severity resolved against the
organisation tree for its entity when it opens (each role found by walking up from the
entity's unit), and again when its severity changes, keeping the letters given by hand.
What nobody holds is listed, never dropped."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.directory.chart import OrgChart
from services.notifier.domain.common import Cause, key_id
from services.notifier.raci.deadline import Deadline
from services.notifier.raci.rules import Raci


MANY = (Raci.CONSULTED, Raci.INFORMED)  # the letters more than one person holds


@dataclass(frozen=True)
class Found:
    people: dict[str, list[str]]  # RACI letter → handles, in matrix order, each once
    unresolved: list[str]  # "<letter> (<role>): why"
    accountable_at: list[dict[str, str]] = field(default_factory=list)  # {role, unit}
    unit: str | None = None  # the entity's unit
    unit_path: list[dict[str, str]] = field(default_factory=list)  # root … unit: key, name


def find_people(chart: OrgChart, entity: str, labels: Mapping[str, str] | None,
                row: dict[str, list[str]]) -> Found:
    placed = chart.unit_for(entity, labels)
    people: dict[str, list[str]] = {str(letter): [] for letter in Raci}
    unresolved: list[str] = []
    accountable_at: list[dict[str, str]] = []
    for letter in Raci:
        for role in row.get(letter, []):
            if placed is None:
                unresolved.append(f"{letter} ({role}): entity {entity} belongs to no unit")
                continue
            holders = chart.role_holders(placed["key"], role)
            if holders.held_at is None:
                unresolved.append(f"{letter} ({role}): nobody holds it from {placed['key']} "
                                  "up to the root")
                continue
            people[letter] += [h for h in holders.handles if h not in people[letter]]
            if letter is Raci.ACCOUNTABLE:
                accountable_at.append({"role": role, "unit": holders.held_at})
    return Found(people, unresolved, accountable_at, placed["key"] if placed else None,
                 unit_path(chart, placed["key"]) if placed else [])


def unit_path(chart: OrgChart, key: str) -> list[dict[str, str]]:
    """The units from the root down to `key`, as the board shows them (华南区 › 深圳宝安店)."""
    units = [*reversed(chart.ancestors(key)), chart.units[key]]
    return [{"key": u["key"], "name": u.get("name") or u["key"]} for u in units]


class Staffing(Aggregate):
    """One incident's RACI people as resolved at its opening, or at its last severity change
    (published as IncidentStaffed), with what later deadlines need: where the Accountable's
    role was held, to go one level up from there."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(f"staffing:{incident_id}")

    @event("Staffed")
    def __init__(self, incident_id: str, ref: str, severity: str, title: str, entity: str,
                 unit: str | None, responsible: list[str], accountable: list[str],
                 consulted: list[str], informed: list[str], unresolved: list[str],
                 accountable_at: list[dict[str, str]], at: datetime, actor: str,
                 cause: Cause, facts: dict | None = None, matrix: bool = True,
                 unit_path: list[dict[str, str]] | None = None) -> None:
        self.incident_id, self.ref, self.severity = incident_id, ref, severity
        self.unit_path = unit_path or []
        self.matrix = matrix  # False: no matrix row staffed it, only people named by hand
        self.hand: dict[str, list[str]] = {}  # letter → the people given it by hand
        self.facts = facts  # the opening's facts, for the messages of its chases
        self.title, self.entity, self.unit = title, entity, unit
        self.responsible, self.accountable = responsible, accountable
        self.consulted, self.informed = consulted, informed
        self.unresolved, self.accountable_at = unresolved, accountable_at
        self.staffed_at = at
        self.correlation_id = cause.get("correlation_id")

    @classmethod
    def record(cls, *, incident: dict[str, str], found: Found, at: datetime, actor: str,
               cause: Cause) -> "Staffing":
        return cls(**incident, unit=found.unit, **found.people, unresolved=found.unresolved,
                   accountable_at=found.accountable_at, at=at, actor=actor, cause=cause,
                   **({"unit_path": found.unit_path} if found.unit_path else {}))

    @classmethod
    def by_hand(cls, *, incident: dict[str, str], at: datetime, actor: str,
                cause: Cause) -> "Staffing":
        """An incident no matrix row staffed, to follow the letters given on it by hand."""
        return cls(**incident, unit=None, responsible=[], accountable=[], consulted=[],
                   informed=[], unresolved=[], accountable_at=[], at=at, actor=actor,
                   cause=cause, matrix=False)

    @property
    def incident(self) -> dict[str, str]:
        return {"incident_id": self.incident_id, "ref": self.ref, "severity": self.severity,
                "title": self.title, "entity": self.entity,
                "facts": getattr(self, "facts", None)}

    def people(self, letter: Raci) -> list[str]:
        return list(getattr(self, str(letter)))

    def assign(self, letter: Raci, person: str, at: datetime, actor: str,
               cause: Cause) -> bool:
        """Someone given a letter on the incident after it opened: Responsible and
        Accountable name one person (the new one replaces), Consulted and Informed are
        added to. False (nothing recorded) when they hold it already."""
        if person in self.people(letter) and (len(self.people(letter)) == 1
                                              or letter in MANY):
            return False
        self._assigned(letter=str(letter), person=person, at=at, actor=actor, cause=cause)
        return True

    @event("Assigned")
    def _assigned(self, letter: str, person: str, at: datetime, actor: str,
                  cause: Cause) -> None:
        people = self.people(Raci(letter))
        setattr(self, letter, [*people, person] if Raci(letter) in MANY else [person])
        given = self.hand.get(letter, []) if Raci(letter) in MANY else []
        self.hand = {**self.hand, letter: [*given, person]}

    def restaff(self, severity: str, found: Found | None, at: datetime, actor: str,
                cause: Cause) -> dict[str, list[str]]:
        """The incident's severity changed: its people become the new severity's matrix
        row `found` (None: no row, the people stay), except that letters given by hand
        are kept over the matrix (the one Responsible or Accountable named by hand stays;
        Consulted and Informed named by hand are added). Returns the people newly holding
        Responsible or Accountable, to be told."""
        people = {str(letter): self.people(letter) for letter in Raci}
        if found is not None:
            for letter in Raci:
                hand, matrix = self.hand.get(str(letter), []), found.people[str(letter)]
                people[str(letter)] = (list(dict.fromkeys([*matrix, *hand]))
                                       if letter in MANY else hand or matrix)
        newly = {str(letter): [p for p in people[str(letter)] if p not in self.people(letter)]
                 for letter in (Raci.RESPONSIBLE, Raci.ACCOUNTABLE)}
        self._restaffed(
            incident_id=self.incident_id, ref=self.ref, severity=severity, matrix=self.matrix or found is not None,
            unit=found.unit if found is not None else self.unit, **people,
            unresolved=found.unresolved if found is not None else self.unresolved,
            accountable_at=(found.accountable_at if found is not None
                            else self.accountable_at), at=at, actor=actor, cause=cause)
        return {letter: handles for letter, handles in newly.items() if handles}

    @event("Restaffed")
    def _restaffed(self, incident_id: str, ref: str, severity: str, matrix: bool, unit: str | None,
                   responsible: list[str], accountable: list[str], consulted: list[str],
                   informed: list[str], unresolved: list[str],
                   accountable_at: list[dict[str, str]], at: datetime, actor: str,
                   cause: Cause) -> None:
        self.severity, self.matrix, self.unit = severity, matrix, unit
        self.responsible, self.accountable = responsible, accountable
        self.consulted, self.informed = consulted, informed
        self.unresolved, self.accountable_at = unresolved, accountable_at

    def deadline(self, *, key: str, kind: str, subject: str | None, started_at: datetime,
                 due_at: datetime, responsible: list[str], settings: dict[str, Any],
                 at: datetime, actor: str, cause: Cause) -> Deadline:
        """A deadline of this incident: `responsible` warned, its Accountable told, then one
        level up from where the Accountable's role was held."""
        return Deadline.set(
            incident=self.incident, key=key, kind=kind, subject=subject, started_at=started_at,
            due_at=due_at, warn_share=settings["warn_at"],
            up_after_seconds=settings["up_after_seconds"], responsible=responsible,
            accountable=self.accountable, accountable_at=self.accountable_at,
            up_roles=settings["up_roles"], at=at, actor=actor, cause=cause)
