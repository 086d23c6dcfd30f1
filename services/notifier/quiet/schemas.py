"""The API vocabulary of routes and quiet rules. Matchers are Alertmanager strings
(`team="db"`, `instance=~"db-.*"`); an item may hold several in the set form `{a="b", c!="d"}`."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.notifier.quiet.matchers import MAX_MATCHER
from services.notifier.quiet.recurrence import DAYS
from shared.limits import ITEMS, MAP_KEY, NAME, ShortText, Labels, LongText, Name

MatcherText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_MATCHER)]
Matchers = Annotated[list[MatcherText], Field(max_length=ITEMS)]
Day = Literal[DAYS]  # type: ignore[valid-type]


class RouteSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    matchers: Matchers = Field(default_factory=list, description="all must match (none: any)")
    receiver: str | None = Field(None, max_length=NAME,
                                 description="an escalation policy's name; null inherits the "
                                             "parent's (the root's null: policies by severity)")
    continue_: bool = Field(False, alias="continue",
                            description="after matching, go on to the next sibling routes")
    routes: list["RouteSpec"] = Field(default_factory=list, max_length=ITEMS)


class RoutesRead(BaseModel):
    tree: dict[str, Any]
    default: bool = Field(description="true: no tree was defined; severity alone routes")
    version: int
    updated_at: datetime | None
    updated_by: str | None


class RouteTest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    labels: Labels = Field(description="the alert's labels, `severity` among them")


class RouteTestRead(BaseModel):
    policies: list[str]
    matched: list[dict[str, Any]] = Field(description="the routes that took the alert")
    visited: list[dict[str, Any]] = Field(description="every route looked at, in order")


class SilenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: Matchers = Field(min_length=1)
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime
    comment: ShortText = Field(min_length=1, description="why; shown where it holds an alert")


class SilenceRead(BaseModel):
    id: UUID
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    state: Literal["pending", "active", "expired"]
    expired_by: str | None
    created_at: datetime
    updated_at: datetime


class SilencePage(BaseModel):
    items: list[SilenceRead]
    total: int


class WindowUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: Matchers = Field(min_length=1)
    time_zone: str = Field(min_length=1, max_length=64, description="IANA, e.g. Asia/Shanghai")
    days: list[Day] = Field(min_length=1, max_length=len(DAYS))
    start: str = Field(min_length=1, max_length=5, description="local start time, HH:MM")
    duration_minutes: float = Field(gt=0, allow_inf_nan=False)
    comment: LongText = ""


class WindowCreate(WindowUpdate):
    name: Name


class WindowRead(WindowCreate):
    id: UUID
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class WindowPage(BaseModel):
    items: list[WindowRead]
    total: int


class InhibitionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_matchers: Matchers = Field(min_length=1)
    target_matchers: Matchers = Field(min_length=1)
    equal: list[Annotated[str, StringConstraints(min_length=1, max_length=MAP_KEY)]] = Field(
        default_factory=list, max_length=ITEMS,
        description="labels whose values source and target must share")
    comment: LongText = ""


class InhibitionCreate(InhibitionUpdate):
    name: Name


class InhibitionRead(InhibitionCreate):
    id: UUID
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class InhibitionPage(BaseModel):
    items: list[InhibitionRead]
    total: int
