"""A recurring maintenance window: alerts matching its matchers are held while it is open
(weekly days, a local start time and a duration in its own time zone; recurrence.py)."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.quiet.matchers import Matcher, canonical, parse_list
from services.notifier.quiet.recurrence import Weekly
from shared.errors import Invalid, NotFound


class MaintenanceWindow(Aggregate):
    """Named, so config as code finds it again: the id derives from the name, which stays."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return key_id(f"maintenance:{name}")

    @staticmethod
    def normalised(**spec) -> dict:
        if not str(spec.get("name", "")).strip():
            raise Invalid("name", "a maintenance window needs a name")
        matchers = parse_list(spec["matchers"])
        if not matchers:
            raise Invalid("matchers", "list at least one matcher: a window without one would "
                          "hold every alert")
        Weekly.parse(time_zone=spec["time_zone"], days=spec["days"], start=spec["start"],
                     duration_minutes=spec["duration_minutes"])
        return {"name": spec["name"], "matchers": canonical(matchers),
                "time_zone": spec["time_zone"], "days": list(dict.fromkeys(spec["days"])),
                "start": spec["start"], "duration_minutes": float(spec["duration_minutes"]),
                "comment": spec.get("comment") or ""}

    @classmethod
    def define(cls, definition: dict, at: datetime, actor: str, cause: Cause):
        """`definition` as normalised(...) returns it."""
        return cls._create(cls.Defined, id=cls.create_id(definition["name"]),
                           definition=definition, at=at, actor=actor, cause=cause)

    @event("Defined")
    def __init__(self, definition: dict, at: datetime, actor: str, cause: Cause) -> None:
        self._apply(definition, at, actor)
        self.created_at, self.created_by = at, actor

    def _apply(self, definition: dict, at: datetime, actor: str) -> None:
        self.definition = definition
        self.name = definition["name"]
        self.deleted = False
        self.updated_at, self.updated_by = at, actor

    @property
    def parsed(self) -> list[Matcher]:
        return parse_list(self.definition["matchers"])

    @property
    def recurrence(self) -> Weekly:
        d = self.definition
        return Weekly.parse(time_zone=d["time_zone"], days=d["days"], start=d["start"],
                            duration_minutes=d["duration_minutes"])

    def open_at(self, at: datetime) -> tuple[datetime, datetime] | None:
        return None if self.deleted else self.recurrence.open_at(at)

    # -- commands -------------------------------------------------------------------------
    def revise(self, definition: dict, at: datetime, actor: str, cause: Cause) -> bool:
        """Replace the definition (or bring a deleted window back); False if nothing changes."""
        if definition["name"] != self.name:
            raise Invalid("name", "a window keeps its name; delete it and define a new one")
        if definition == self.definition and not self.deleted:
            return False
        self._revise(definition=definition, at=at, actor=actor, cause=cause)
        return True

    def delete(self, at: datetime, actor: str, cause: Cause) -> bool:
        if self.deleted:
            return False
        self._delete(at=at, actor=actor, cause=cause)
        return True

    @event("Revised")
    def _revise(self, definition: dict, at: datetime, actor: str, cause: Cause) -> None:
        self._apply(definition, at, actor)

    @event("Deleted")
    def _delete(self, at: datetime, actor: str, cause: Cause) -> None:
        self.deleted, self.updated_at, self.updated_by = True, at, actor


class WindowNotFound(NotFound):
    pass
