"""The API vocabulary of schedules. Shapes and sizes are checked here; the rules (zones,
windows, overlaps) by the engine, whose refusals name the field too."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.notifier.oncall.model import OverrideKind, Rotation
from shared.limits import ITEMS, NAME, TITLE, Name, ShortText

Clock = Annotated[str, StringConstraints(min_length=1, max_length=5)]
Day = Annotated[str, StringConstraints(min_length=1, max_length=10)]
Local = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Handle = Annotated[str, StringConstraints(min_length=1, max_length=NAME)]


class Restriction(BaseModel):
    """Either a daily window (`start`–`end`, on `days` or every day) or a weekly window
    (`start_day` `start` to `end_day` `end`, which may run over the end of the week)."""

    model_config = ConfigDict(extra="forbid")

    start: Clock = Field(description="HH:MM, local")
    end: Clock = Field(description="HH:MM, local; 24:00 is the end of the day")
    days: list[Day] | None = Field(None, max_length=7, description="mon … sun")
    start_day: Day | None = None
    end_day: Day | None = None


class LayerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    rotation: Rotation
    shift_hours: int | None = Field(None, description="custom rotations: hours per shift")
    shifts_per_turn: int = Field(1, description="shifts one person holds before handing off")
    handoff_time: Clock = Field("09:00", description="HH:MM, local")
    handoff_weekday: Day | None = Field(None, description="weekly rotations: mon … sun")
    start: Local = Field(description="local date and time the rotation counts from, "
                                     "YYYY-MM-DDTHH:MM without an offset")
    members: list[Handle] = Field(max_length=ITEMS, description="people's handles, in turn order")
    restrictions: list[Restriction] = Field(default_factory=list, max_length=50)


class ScheduleDefinition(BaseModel):
    """PUT body: everything but the name, which is the schedule's key."""

    model_config = ConfigDict(extra="forbid")

    time_zone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="IANA time zone, e.g. Asia/Shanghai")
    description: ShortText = ""
    layers: list[LayerIn] = Field(max_length=20, description="lowest first: the last layer "
                                                             "with someone on call wins")


class ScheduleCreate(ScheduleDefinition):
    name: Name


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: OverrideKind
    person: Handle
    by: Handle | None = Field(None, description="replace: who takes the person's place")
    start: datetime = Field(description="with an offset")
    end: datetime = Field(description="with an offset; after start")
    note: Annotated[str, StringConstraints(max_length=TITLE)] = ""


class OverrideRead(BaseModel):
    id: str
    kind: OverrideKind
    person: str
    by: str | None
    start: datetime
    end: datetime
    note: str
    added_at: datetime
    added_by: str


class LayerRead(BaseModel):
    name: str
    rotation: Rotation
    shift_hours: int | None
    shifts_per_turn: int
    handoff_time: str
    handoff_weekday: str | None
    start: str
    members: list[str]
    restrictions: list[Restriction]


class ScheduleRead(BaseModel):
    id: UUID
    name: str
    time_zone: str
    description: str
    layers: list[LayerRead]
    overrides: list[OverrideRead]
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class ScheduleSummary(BaseModel):
    id: UUID
    name: str
    time_zone: str
    description: str
    layers: int
    members: list[str]
    updated_at: datetime
    updated_by: str


class SchedulePage(BaseModel):
    items: list[ScheduleSummary]
    total: int


class SourceRead(BaseModel):
    kind: str = Field(description="layer or override")
    name: str = Field(description="the layer's name or the override's id")
    override: OverrideKind | None
    replaces: str | None


class OnCallPerson(BaseModel):
    handle: str
    source: SourceRead
    why: str
    since: datetime
    until: datetime


class OnCallRead(BaseModel):
    schedule: str
    at: datetime
    on_call: list[OnCallPerson]
    set_aside: list[OnCallPerson] = Field(description="on call by a layer, but removed or "
                                                      "replaced by an override")


class ShiftRead(BaseModel):
    start: datetime
    end: datetime
    handle: str
    source: SourceRead
    why: str


class ShiftPage(BaseModel):
    schedule: str
    start: datetime
    end: datetime
    items: list[ShiftRead]


class ReasonRead(BaseModel):
    via: str = Field(description="what put them on call: team:<name>, role:<role>")
    why: str = Field(description='e.g. "schedule 华南值班, layer primary", "holds 店长 at 深圳宝安店"')
    since: datetime | None = Field(description="when the schedule's hold began (null: not a "
                                               "schedule's)")
    until: datetime | None


class OnCallOfRead(BaseModel):
    handle: str
    name: str
    reasons: list[ReasonRead] = Field(description="every reason, the first first")


class TeamOnCallRead(BaseModel):
    team: str
    schedule: str | None = Field(description="the team's schedule (null: its members are "
                                             "on call)")
    at: datetime
    on_call: list[OnCallOfRead]
    unresolved: list[str] = Field(description="what could not be answered, e.g. a schedule "
                                              "that no longer exists")


class UnitOnCallRead(BaseModel):
    unit: str
    name: str
    at: datetime
    teams: list[str] = Field(description="the teams attached: one of their members holds a "
                                         "role in the unit")
    on_call: list[OnCallOfRead]
    unresolved: list[str]
