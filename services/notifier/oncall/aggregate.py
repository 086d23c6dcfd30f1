"""The Schedule aggregate: a schedule's definition (zone, layers) and its overrides, every
change a stored event with actor, time and cause. Its id derives from its name, so anything
that names a schedule (a team, a ladder step) finds it without a lookup table."""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.oncall.definition import (
    WEEKDAYS, check_apart, parse_override, parse_weekday, plan,
)
from services.notifier.oncall.model import InvalidSchedule, Plan, Rotation
from shared.errors import DomainError, NotFound

# A schedule's name is part of its URL: no slashes, no control characters, no outer spaces.
NAME = re.compile(r"^[^/?#\s\x00-\x1f\x7f](?:[^/?#\x00-\x1f\x7f]*[^/?#\s\x00-\x1f\x7f])?$")


class Schedule(Aggregate):
    @staticmethod
    def create_id(name: str) -> UUID:
        return key_id(f"schedule:{name}")

    @classmethod
    def define(cls, *, definition: dict[str, Any], at: datetime, actor: str,
               cause: Cause) -> "Schedule":
        checked = normalised(definition)
        return cls._create(cls.Defined, id=cls.create_id(checked["name"]), definition=checked,
                           at=at, actor=actor, cause=cause)

    @event("Defined")
    def __init__(self, definition: dict[str, Any], at: datetime, actor: str, cause: Cause) -> None:
        self.name = definition["name"]
        self.definition = definition
        self.overrides: list[dict[str, Any]] = []
        self.deleted = False
        self.created_at, self.created_by = at, actor
        self.updated_at, self.updated_by = at, actor

    def plan(self) -> Plan:
        """The engine's view of the current definition and overrides."""
        return plan(self.definition, self.overrides)

    # -- commands -------------------------------------------------------------------------
    def revise(self, definition: dict[str, Any], at: datetime, actor: str, cause: Cause) -> bool:
        """Replace the definition (the name stays); False when nothing changes."""
        self.check_live()
        revised = normalised({**definition, "name": self.name})
        if revised == self.definition:
            return False
        self._revise(definition=revised, at=at, actor=actor, cause=cause)
        return True

    def restore(self, definition: dict[str, Any], at: datetime, actor: str, cause: Cause) -> None:
        """Define a deleted schedule's name again: a fresh definition, no overrides."""
        if not self.deleted:
            raise ScheduleExists(f"schedule {self.name!r} already exists; names are unique")
        self._restore(definition=normalised({**definition, "name": self.name}), at=at,
                      actor=actor, cause=cause)

    def add_override(self, override: dict[str, Any], at: datetime, actor: str,
                     cause: Cause) -> dict[str, Any]:
        self.check_live()
        new = parse_override(override, "override")
        for existing in self.plan().overrides:
            check_apart(existing, new, "override")
        stored = {"id": str(override["id"]), "kind": str(new.kind), "person": new.person,
                  "by": new.by, "start": new.start.isoformat(), "end": new.end.isoformat(),
                  "note": str(override.get("note") or "")}
        self._add_override(override=stored, at=at, actor=actor, cause=cause)
        return self.overrides[-1]

    def remove_override(self, override_id: str, at: datetime, actor: str, cause: Cause) -> None:
        self.check_live()
        if all(o["id"] != override_id for o in self.overrides):
            raise OverrideNotFound(f"schedule {self.name!r} has no override {override_id}")
        self._remove_override(override_id=override_id, at=at, actor=actor, cause=cause)

    def delete(self, at: datetime, actor: str, cause: Cause) -> None:
        self.check_live()
        self._delete(at=at, actor=actor, cause=cause)

    def check_live(self) -> None:
        if self.deleted:
            raise ScheduleNotFound(f"schedule {self.name!r} was deleted")

    # -- events ---------------------------------------------------------------------------
    @event("Revised")
    def _revise(self, definition: dict[str, Any], at: datetime, actor: str, cause: Cause) -> None:
        self.definition = definition
        self.updated_at, self.updated_by = at, actor

    @event("Restored")
    def _restore(self, definition: dict[str, Any], at: datetime, actor: str, cause: Cause) -> None:
        self.definition, self.overrides, self.deleted = definition, [], False
        self.updated_at, self.updated_by = at, actor

    @event("OverrideAdded")
    def _add_override(self, override: dict[str, Any], at: datetime, actor: str, cause: Cause) -> None:
        self.overrides.append({**override, "added_at": at.isoformat(), "added_by": actor})
        self.updated_at, self.updated_by = at, actor

    @event("OverrideRemoved")
    def _remove_override(self, override_id: str, at: datetime, actor: str, cause: Cause) -> None:
        self.overrides = [o for o in self.overrides if o["id"] != override_id]
        self.updated_at, self.updated_by = at, actor

    @event("Deleted")
    def _delete(self, at: datetime, actor: str, cause: Cause) -> None:
        self.deleted = True
        self.updated_at, self.updated_by = at, actor


def normalised(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition checked and written one way, so that an unchanged definition compares
    equal and the stored event says exactly what the engine reads."""
    name = definition.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidSchedule("name", "a schedule needs a name without slashes, ?, # or "
                              "surrounding spaces (it is part of its URL)")
    plan(definition)
    return {"name": name, "time_zone": definition["time_zone"],
            "description": str(definition.get("description") or ""),
            "layers": [normal_layer(layer, i) for i, layer in enumerate(definition["layers"])]}


def normal_layer(layer: dict[str, Any], index: int) -> dict[str, Any]:
    rotation = Rotation(layer["rotation"])
    weekly = rotation is Rotation.WEEKLY
    return {"name": str(layer.get("name") or f"layer {index + 1}").strip(),
            "rotation": str(rotation),
            "shift_hours": layer.get("shift_hours") if rotation is Rotation.CUSTOM else None,
            "shifts_per_turn": layer.get("shifts_per_turn", 1),
            "handoff_time": layer.get("handoff_time", "09:00"),
            "handoff_weekday": (WEEKDAYS[parse_weekday(layer.get("handoff_weekday") or "mon", "")]
                                if weekly else None),
            "start": datetime.fromisoformat(layer["start"]).strftime("%Y-%m-%dT%H:%M"),
            "members": [m.strip() for m in layer["members"]],
            "restrictions": [normal_restriction(r) for r in layer.get("restrictions") or []]}


def normal_restriction(restriction: dict[str, Any]) -> dict[str, Any]:
    if restriction.get("start_day") is not None:
        return {"start_day": restriction["start_day"].strip().lower(), "start": restriction["start"],
                "end_day": restriction["end_day"].strip().lower(), "end": restriction["end"]}
    days = restriction.get("days")
    return {"days": None if days is None else [d.strip().lower() for d in days],
            "start": restriction["start"], "end": restriction["end"]}


class ScheduleNotFound(NotFound):
    pass


class OverrideNotFound(NotFound):
    pass


class ScheduleExists(DomainError):
    pass
