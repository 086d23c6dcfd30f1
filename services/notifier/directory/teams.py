"""A team: a named set of people, optionally with the schedule that says who of them is on
call. Members must be people of the organisation (checked in chart.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.directory.errors import InvalidTeam
from services.notifier.directory.people import check_handle
from shared.errors import Invalid

TEAM_FIELDS = ("name", "members", "schedule")


class Team(Aggregate):
    @staticmethod
    def create_id(name: str) -> UUID:
        return key_id(f"team:{name}")

    @classmethod
    def form(cls, *, definition: dict[str, Any], at: datetime, actor: str,
             cause: Cause) -> "Team":
        return cls(**cls.normalised(**definition), at=at, actor=actor, cause=cause)

    @classmethod
    def normalised(cls, *, name: str, members: list[str] | None = None,
                   schedule: str | None = None) -> dict[str, Any]:
        if not name.strip() or name != name.strip() or "/" in name:
            raise InvalidTeam("name", f"{name!r} is not a team name: non-empty, without '/' "
                              "or surrounding spaces")
        members = list(members or [])
        if len(set(members)) != len(members):
            raise InvalidTeam("members", "a person is listed twice")
        for handle in members:
            try:
                check_handle(handle)
            except Invalid as error:
                raise InvalidTeam("members", error.message) from None
        return {"name": name, "members": members, "schedule": schedule or None}

    @event("Formed")
    def __init__(self, name: str, members: list[str], schedule: str | None, at: datetime,
                 actor: str, cause: Cause) -> None:
        self.name, self.members, self.schedule = name, members, schedule
        self.formed_at, self.updated_at, self.updated_by = at, at, actor
        self.disbanded, self.disbanded_why = False, None

    @property
    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "members": list(self.members), "schedule": self.schedule}

    def revised(self, changes: dict[str, Any]) -> dict[str, Any]:
        if "name" in changes and changes["name"] != self.name:
            raise InvalidTeam("name", "a team's name never changes; form a new team instead")
        return self.normalised(**{**self.definition, **changes})

    # -- commands -------------------------------------------------------------------------
    def revise(self, definition: dict[str, Any], at: datetime, actor: str, cause: Cause) -> bool:
        if definition == self.definition and not self.disbanded:
            return False
        fields = {"members": definition["members"], "schedule": definition["schedule"]}
        if self.disbanded:
            self._reform(**fields, at=at, actor=actor, cause=cause)
        else:
            self._revise(**fields, at=at, actor=actor, cause=cause)
        return True

    def disband(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        if self.disbanded:
            return False
        self._disband(why=why, at=at, actor=actor, cause=cause)
        return True

    # -- events ---------------------------------------------------------------------------
    @event("Revised")
    def _revise(self, members: list[str], schedule: str | None, at: datetime, actor: str,
                cause: Cause) -> None:
        self.members, self.schedule = members, schedule
        self.updated_at, self.updated_by = at, actor

    @event("Disbanded")
    def _disband(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.disbanded, self.disbanded_why = True, why
        self.updated_at, self.updated_by = at, actor

    @event("Reformed")
    def _reform(self, members: list[str], schedule: str | None, at: datetime, actor: str,
                cause: Cause) -> None:
        self.members, self.schedule = members, schedule
        self.disbanded, self.disbanded_why = False, None
        self.updated_at, self.updated_by = at, actor
