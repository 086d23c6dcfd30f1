"""HTTP routes of the support desk: managers define the tiers, groups and problem types,
viewers read them."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.notifier.api import app_of, manager, viewer
from shared.auth import caller
from shared.http import request_cause

router = APIRouter(prefix="/v1", tags=["support tiers"])


class SupportTier(BaseModel):
    name: str = Field(description="L1, L2, R&D …, in the order incidents climb them")
    time_box_seconds: float | None = Field(None, description="how long the tier has before "
                                           "the next one takes over; none: it never escalates "
                                           "on time")


class SupportGroup(BaseModel):
    tier: str
    team: str = Field(description="a team of the organisation: its on-call people answer")
    escalates_to: str | None = Field(None, description="a group of the next tier; none at "
                                     "the last tier")


class SupportSpec(BaseModel):
    tiers: list[dict] = Field(description="SupportTier objects, in order")
    groups: dict[str, dict] = Field(description="group name → SupportGroup")
    types: dict[str, str] = Field({}, description="problem type → its first (L1) group")
    default_group: str | None = Field(None, description="the L1 group of incidents whose "
                                      "type has none (or that have no type)")


class SupportRead(BaseModel):
    tiers: list[SupportTier]
    groups: dict[str, SupportGroup]
    types: dict[str, str]
    default_group: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


@router.get("/support", response_model=SupportRead, dependencies=viewer)
def get_support(request: Request) -> dict:
    return app_of(request).support_rules()


@router.put("/support", response_model=SupportRead, dependencies=manager)
def put_support(body: SupportSpec, request: Request) -> dict:
    """The whole desk; incidents opened from now on are routed by it (open ones keep the
    chain they were routed with). A bad field is refused (422) naming it."""
    return app_of(request).define_support(body.model_dump(), caller(request),
                                          request_cause(request))
