"""API vocabulary of the capa service: what clients send and what they get back."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.limits import ITEMS, LongText, Name, Title

from services.capa.domain import (
    MAX_WHYS, ActionKind, ActionStatus, CaseStatus, Category, RcaMethod,
)

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FactorCreate(_Body):
    category: Category = Field(description="人机料法环测: man, machine, material, method, "
                                           "environment, measurement (the Chinese label works too)")
    factor: Title


class RootCauseCreate(_Body):
    by: Name
    method: RcaMethod
    statement: LongText = Field(min_length=1, description="the root cause in one sentence")
    whys: list[LongText] = Field(default_factory=list, max_length=MAX_WHYS,
                                 description=f"5whys: 1 to {MAX_WHYS} answers, the last one deepest")
    category: Category | None = Field(None, description="required for fishbone")
    contributing_factors: list[FactorCreate] = Field(default_factory=list, max_length=ITEMS)


class ActionCreate(_Body):
    by: Name
    kind: ActionKind
    title: Title
    owner: Name
    due_date: date = Field(description="not before the day the case opened")
    acceptance_criteria: LongText = Field(min_length=1,
                                          description="how a verifier will know the action worked")


class ActionCompletion(_Body):
    by: Name = Field(description="the action's owner, or anyone when a manager's key is used")
    evidence: LongText = Field(min_length=1)


class ActionVerification(_Body):
    verifier: Name = Field(description="someone other than the action's owner")
    effective: bool
    note: LongText = Field("", description="required when not effective")


class RootCauseRead(BaseModel):
    method: RcaMethod
    statement: str
    whys: list[str]
    category: Category | None
    contributing_factors: list[dict[str, str]]
    revision: int
    by: str
    at: datetime


class ActionRead(BaseModel):
    capa_id: UUID | None = None
    id: str
    kind: ActionKind
    title: str
    owner: str
    due_date: date
    acceptance_criteria: str
    status: ActionStatus
    evidence: str | None
    completed_by: str | None
    completed_at: datetime | None
    verifier: str | None
    verified_at: datetime | None
    note: str | None


class HistoryRead(BaseModel):
    version: int
    event: str
    at: datetime
    actor: str
    correlation_id: str | None
    data: dict[str, Any]


class CapaRead(BaseModel):
    id: UUID
    incident_id: str
    ref: str
    title: str
    severity: str
    entity: str
    resolved_by: str
    resolution: str
    status: CaseStatus
    opened_at: datetime
    closed_at: datetime | None
    root_cause: RootCauseRead | None
    actions: list[ActionRead]
    closure_blockers: list[str] = Field(description="why the case is not closed yet")
    history: list[HistoryRead]


class CapaSummaryRead(BaseModel):
    id: UUID
    incident_id: str
    ref: str
    title: str
    severity: str
    entity: str
    status: CaseStatus
    root_cause: str | None
    actions_total: int
    actions_verified: int
    opened_at: datetime
    closed_at: datetime | None


class CapaPage(BaseModel):
    items: list[CapaSummaryRead]
    total: int
    limit: int
    offset: int
