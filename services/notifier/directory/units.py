"""A unit of the organisation tree (总部 → 华南战区 → 深圳宝安店): a stable key, a display
name, a parent, role holders by free-form role name, and the entities it answers for. Rules
that need the whole tree (parents, cycles, known people) are checked in chart.py."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.directory.errors import InvalidUnit
from services.notifier.directory.people import check_handle
from shared.errors import Invalid
from shared.limits import NAME

UNIT_FIELDS = ("key", "name", "parent", "roles", "entities")


class Unit(Aggregate):
    @staticmethod
    def create_id(key: str) -> UUID:
        return key_id(f"unit:{key}")

    @classmethod
    def define(cls, *, definition: dict[str, Any], at: datetime, actor: str,
               cause: Cause) -> "Unit":
        return cls(**cls.normalised(**definition), at=at, actor=actor, cause=cause)

    @classmethod
    def normalised(cls, *, key: str, name: str, parent: str | None = None,
                   roles: dict[str, list[str]] | None = None,
                   entities: list[str] | None = None) -> dict[str, Any]:
        """Roles in name order with their holders as given (the order says who is asked
        first); entities sorted."""
        check_key(key)
        if not name.strip():
            raise InvalidUnit("name", "a unit needs a display name, e.g. 深圳宝安店")
        if parent == key:
            raise InvalidUnit("parent", f"unit {key} cannot be its own parent")
        roles = roles or {}
        for role, holders in roles.items():
            if not role.strip():
                raise InvalidUnit("roles", "a role needs a name, e.g. 店长")
            if len(set(holders)) != len(holders):
                raise InvalidUnit(f"roles.{role}", "a person is listed twice")
            for handle in holders:
                try:
                    check_handle(handle)
                except Invalid as error:
                    raise InvalidUnit(f"roles.{role}", error.message) from None
        entities = list(entities or [])
        if any(not e.strip() for e in entities) or len(set(entities)) != len(entities):
            raise InvalidUnit("entities", "list each entity once, by its name in alerts "
                              "(e.g. store-042)")
        return {"key": key, "name": name.strip(), "parent": parent or None,
                "roles": {r: list(roles[r]) for r in sorted(roles) if roles[r]},
                "entities": sorted(entities)}

    @event("Defined")
    def __init__(self, key: str, name: str, parent: str | None, roles: dict[str, list[str]],
                 entities: list[str], at: datetime, actor: str, cause: Cause) -> None:
        self.key = key
        self._set(name, parent, roles, entities, at, actor)
        self.defined_at = at
        self.removed, self.removed_why = False, None

    def _set(self, name: str, parent: str | None, roles: dict[str, list[str]],
             entities: list[str], at: datetime, actor: str) -> None:
        self.name, self.parent, self.roles, self.entities = name, parent, roles, entities
        self.updated_at, self.updated_by = at, actor

    @property
    def definition(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "parent": self.parent,
                "roles": {r: list(h) for r, h in self.roles.items()},
                "entities": list(self.entities)}

    def revised(self, changes: dict[str, Any]) -> dict[str, Any]:
        """The definition these changes would give (checked against the tree before use)."""
        if "key" in changes and changes["key"] != self.key:
            raise InvalidUnit("key", "a unit's key never changes; define a new unit instead")
        return self.normalised(**{**self.definition, **changes})

    # -- commands -------------------------------------------------------------------------
    def revise(self, definition: dict[str, Any], at: datetime, actor: str, cause: Cause) -> bool:
        if definition == self.definition and not self.removed:
            return False
        if self.removed:
            self._restore(**self._fields(definition), at=at, actor=actor, cause=cause)
        else:
            self._revise(**self._fields(definition), at=at, actor=actor, cause=cause)
        return True

    def remove(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        if self.removed:
            return False
        self._remove(why=why, at=at, actor=actor, cause=cause)
        return True

    @staticmethod
    def _fields(definition: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in definition.items() if k != "key"}

    # -- events ---------------------------------------------------------------------------
    @event("Revised")
    def _revise(self, name: str, parent: str | None, roles: dict[str, list[str]],
                entities: list[str], at: datetime, actor: str, cause: Cause) -> None:
        self._set(name, parent, roles, entities, at, actor)

    @event("Removed")
    def _remove(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.removed, self.removed_why = True, why
        self.updated_at, self.updated_by = at, actor

    @event("Restored")
    def _restore(self, name: str, parent: str | None, roles: dict[str, list[str]],
                 entities: list[str], at: datetime, actor: str, cause: Cause) -> None:
        self._set(name, parent, roles, entities, at, actor)
        self.removed, self.removed_why = False, None


def check_key(key: str) -> None:
    if not key.strip() or key != key.strip() or "/" in key or len(key) > NAME:
        raise InvalidUnit("key", f"{key!r} is not a unit key: a non-empty name without '/' or "
                          "surrounding spaces, e.g. south or store-042 (labels hold it)")
