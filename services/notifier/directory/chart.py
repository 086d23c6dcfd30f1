"""The organisation as plain data, and the pure questions asked of it: which unit an alert's
entity belongs to, who holds a role there (walking up the tree to the first unit with a
holder), a unit's ancestors; and the rules a change must keep (known parents, no cycles,
known people, nobody who left as a new holder or member). No I/O: callers load the chart."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from services.notifier.directory.errors import (
    InvalidUnit, PersonLeft, TreeCycle, UnitHasChildren, UnknownParent, UnknownPerson,
)


@dataclass(frozen=True)
class RoleHolders:
    """Who holds `role` for `unit`: the holders found at `held_at` (None: no unit up to the
    root has one), and the units asked on the way up."""

    role: str
    unit: str
    held_at: str | None
    handles: list[str]
    walked: list[str]


@dataclass(frozen=True)
class OrgChart:
    """people: handle → definition with `left` (and `left_why`); units: key → definition
    (removed units left out); teams: name → definition (disbanded left out); entity_labels:
    the alert labels whose values are unit keys, in the order they are tried."""

    people: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    units: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    teams: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    entity_labels: tuple[str, ...] = ()

    # -- lookups --------------------------------------------------------------------------
    def person(self, handle: str) -> dict[str, Any] | None:
        return self.people.get(handle)

    def is_reachable(self, handle: str) -> bool:
        """A person of the organisation who has not left."""
        found = self.people.get(handle)
        return found is not None and not found.get("left", False)

    def team_members(self, name: str) -> list[str]:
        team = self.teams.get(name)
        return [h for h in team["members"] if self.is_reachable(h)] if team else []

    @cached_property
    def _unit_of_entity(self) -> dict[str, str]:
        return {entity: key for key, unit in self.units.items() for entity in unit["entities"]}

    def placement(self, entity: str, labels: Mapping[str, str] | None = None
                  ) -> tuple[dict[str, Any], str] | None:
        """The entity's unit and how it was found: listed among the unit's entities, else
        the first mapped label whose value is a unit key."""
        key = self._unit_of_entity.get(entity)
        if key is not None:
            return self.units[key], "entity"
        for label in self.entity_labels:
            value = (labels or {}).get(label)
            if value is not None and value in self.units:
                return self.units[value], f"label {label}"
        return None

    def unit_for(self, entity: str, labels: Mapping[str, str] | None = None
                 ) -> dict[str, Any] | None:
        found = self.placement(entity, labels)
        return found[0] if found else None

    def ancestors(self, key: str) -> list[dict[str, Any]]:
        """The unit's parent, its parent's parent … up to the root (a cycle, which the
        rules refuse, would end the walk rather than loop)."""
        found, seen = [], {key}
        parent = self.units[key]["parent"] if key in self.units else None
        while parent is not None and parent in self.units and parent not in seen:
            seen.add(parent)
            found.append(self.units[parent])
            parent = self.units[parent]["parent"]
        return found

    def role_holders(self, key: str, role: str) -> RoleHolders:
        """The first unit from `key` up whose holders of `role` include someone who has not
        left. People who left stay in the unit's history but are not asked."""
        walked = []
        for unit in [self.units[key], *self.ancestors(key)] if key in self.units else []:
            walked.append(unit["key"])
            holders = [h for h in unit["roles"].get(role, []) if self.is_reachable(h)]
            if holders:
                return RoleHolders(role, key, unit["key"], holders, walked)
        return RoleHolders(role, key, None, [], walked)

    def resolve(self, entity: str, labels: Mapping[str, str] | None, role: str
                ) -> RoleHolders | None:
        """Who holds `role` relative to the entity; None when the entity maps to no unit."""
        unit = self.unit_for(entity, labels)
        return self.role_holders(unit["key"], role) if unit is not None else None

    def children(self, key: str) -> list[str]:
        return sorted(k for k, u in self.units.items() if u["parent"] == key)

    # -- rules ----------------------------------------------------------------------------
    def check_unit(self, unit: dict[str, Any], previous: dict[str, Any] | None) -> None:
        """`unit` may replace `previous` (None: a new unit) in this chart."""
        key, parent = unit["key"], unit["parent"]
        if parent is not None:
            if parent not in self.units:
                raise UnknownParent("parent", f"unit {parent!r} does not exist; define it "
                                    "first or name an existing unit")
            path = [key, parent, *(u["key"] for u in self.ancestors(parent))]
            if key in path[1:]:
                cycle = path[:path.index(key, 1) + 1]
                raise TreeCycle("parent", f"{key} would become its own ancestor "
                                f"({' → '.join(cycle)}); choose a parent outside its subtree")
        for role, holders in unit["roles"].items():
            before = (previous or {}).get("roles", {}).get(role, [])
            self.check_newcomers(f"roles.{role}", holders, before)
        for entity in unit["entities"]:
            owner = self._unit_of_entity.get(entity)
            if owner is not None and owner != key:
                raise InvalidUnit("entities", f"{entity} already belongs to unit {owner}; an "
                                  "entity maps to one unit")

    def check_team(self, team: dict[str, Any], previous: dict[str, Any] | None) -> None:
        self.check_newcomers("members", team["members"], (previous or {}).get("members", []))

    def check_newcomers(self, field_name: str, handles: list[str], before: list[str]) -> None:
        """Every handle must be a person; one who left may stay where they were, but is not
        added anywhere new."""
        for handle in handles:
            person = self.people.get(handle)
            if person is None:
                raise UnknownPerson(field_name, f"{handle} is not a person of the "
                                    "organisation; add them under people first")
            if person.get("left") and handle not in before:
                why = f" ({person['left_why']})" if person.get("left_why") else ""
                raise PersonLeft(field_name, f"{handle} has left{why}; choose someone who "
                                 "is still here")

    def check_removal(self, key: str) -> None:
        children = self.children(key)
        if children:
            raise UnitHasChildren(f"unit {key} cannot be removed while units "
                                  f"{', '.join(children)} sit under it; move or remove them first")

    def with_unit(self, unit: dict[str, Any]) -> "OrgChart":
        return OrgChart(self.people, {**self.units, unit["key"]: unit}, self.teams,
                        self.entity_labels)
