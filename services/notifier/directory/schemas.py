"""The organisation's API vocabulary, and the file `closedloop directory apply` reads (the same
shapes: what a file declares is what the API is sent)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.notifier.directory.people import Language, Medium
from services.notifier.raci.schemas import RaciSpec
from shared.limits import ITEMS, MANY, NAME, TITLE, Name, OptionalName, ShortText

Day = Annotated[str, StringConstraints(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$")]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
Handle = Annotated[str, StringConstraints(min_length=1, max_length=NAME)]
Role = Annotated[str, StringConstraints(min_length=1, max_length=NAME)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkingHours(Strict):
    days: list[Day] = Field(min_length=1, max_length=7, examples=[["mon", "tue", "wed"]])
    start: ClockTime = Field(examples=["09:00"], description="local time (the person's zone)")
    end: ClockTime = Field(examples=["18:00"], description="later than start, same day")


class Contact(Strict):
    medium: Medium
    address: str = Field(min_length=1, max_length=TITLE,
                         description="e-mail address, phone number, chat id or mention")
    channel: OptionalName | None = Field(None, description="the channel that carries it")


class PersonCreate(Strict):
    handle: Handle = Field(examples=["li.na"], description="stable: lower-case letters, "
                           "digits, '.', '_', '-'")
    name: Name = Field(examples=["李娜"])
    language: Language = Language.ZH
    time_zone: str = Field("Asia/Shanghai", max_length=NAME, description="IANA zone name")
    working_hours: WorkingHours | None = None
    contacts: list[Contact] = Field(default_factory=list, max_length=ITEMS)


class PersonUpdate(Strict):
    """Only the fields given change; `contacts` replaces the whole list; `working_hours`
    given as null removes them."""

    name: Name | None = None
    language: Language | None = None
    time_zone: str | None = Field(None, max_length=NAME)
    working_hours: WorkingHours | None = None
    contacts: list[Contact] | None = Field(None, max_length=ITEMS)
    left: bool | None = Field(None, description="true: the person has left (kept in history, "
                              "refused as a new role holder or member); false: back again")
    left_reason: ShortText | None = None


class PersonRead(BaseModel):
    id: UUID
    handle: str
    name: str
    language: Language
    time_zone: str
    working_hours: WorkingHours | None
    contacts: list[Contact]
    left: bool
    left_at: datetime | None
    left_why: str | None
    created_at: datetime
    updated_at: datetime


class TeamCreate(Strict):
    name: Name = Field(examples=["华南运营"])
    members: list[Handle] = Field(default_factory=list, max_length=MANY)
    schedule: OptionalName | None = Field(None, description="the schedule saying who of them "
                                          "is on call")


class TeamUpdate(Strict):
    members: list[Handle] | None = Field(None, max_length=MANY)
    schedule: OptionalName | None = None


class TeamRead(BaseModel):
    id: UUID
    name: str
    members: list[str]
    schedule: str | None
    created_at: datetime
    updated_at: datetime


Roles = Annotated[dict[Role, list[Handle]], Field(max_length=ITEMS)]


class UnitCreate(Strict):
    key: Name = Field(examples=["south"], description="stable; the value labels carry")
    name: Name = Field(examples=["华南战区"])
    parent: Name | None = Field(None, description="the parent unit's key (none: a root)")
    roles: Roles = Field(default_factory=dict, examples=[{"战区负责人": ["zhao.lei"]}])
    entities: list[Name] = Field(default_factory=list, max_length=MANY,
                                 description="alert entities that belong to this unit")


class UnitUpdate(Strict):
    """Only the fields given change; `roles` and `entities` replace the whole map or list;
    `parent` given as null makes the unit a root."""

    name: Name | None = None
    parent: Name | None = None
    roles: Roles | None = None
    entities: list[Name] | None = Field(None, max_length=MANY)


class UnitRead(BaseModel):
    id: UUID
    key: str
    name: str
    parent: str | None
    roles: dict[str, list[str]]
    entities: list[str]
    created_at: datetime
    updated_at: datetime


class OrganisationUpdate(Strict):
    entity_labels: list[Name] = Field(max_length=ITEMS, examples=[["store", "region"]],
                                      description="alert labels whose values are unit keys, "
                                                  "tried in this order")


class OrganisationRead(BaseModel):
    entity_labels: list[str]
    updated_at: datetime | None


class DirectoryRead(OrganisationRead):
    people: list[PersonRead]
    teams: list[TeamRead]
    units: list[UnitRead]


class PersonPage(BaseModel):
    items: list[PersonRead]
    total: int


class TeamPage(BaseModel):
    items: list[TeamRead]
    total: int


class UnitPage(BaseModel):
    items: list[UnitRead]
    total: int


class HolderRead(BaseModel):
    handle: str
    name: str
    language: Language
    time_zone: str
    working_hours: WorkingHours | None
    contacts: list[Contact]


class RoleHoldersRead(BaseModel):
    role: str
    unit: str = Field(description="the unit the walk started from")
    unit_name: str | None
    held_at: str | None = Field(description="the unit whose holders answer (null: none up "
                                "to the root)")
    walked: list[str]
    holders: list[HolderRead]


class ResolutionRead(RoleHoldersRead):
    entity: str
    matched_by: str = Field(description="'entity' (listed on the unit) or 'label <name>'")


class PersonEntry(PersonCreate):
    left: bool = False
    left_reason: ShortText | None = None


class OrgFile(Strict):
    """`closedloop directory apply`'s file: what is listed is made to match; what is not
    listed stays as it is."""

    entity_labels: list[Name] | None = Field(None, max_length=ITEMS)
    people: list[PersonEntry] = Field(default_factory=list)
    teams: list[TeamCreate] = Field(default_factory=list)
    units: list[UnitCreate] = Field(default_factory=list)
    raci: RaciSpec | None = Field(None, description="the RACI matrix per severity and the "
                                  "deadline settings (PUT /v1/raci)")
