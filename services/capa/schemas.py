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
    adverse_implications: LongText = Field(
        "", description="what the action might break (its verifier must then say how they "
                        "checked it did not happen)")


class ActionCompletion(_Body):
    by: Name = Field(description="the action's owner, or anyone when a manager's key is used")
    evidence: LongText = Field(min_length=1)


class ActionVerification(_Body):
    verifier: Name = Field(description="someone other than the action's owner")
    effective: bool
    note: LongText = Field("", description="required when not effective")
    adverse_check: LongText = Field(
        "", description="how you checked the action's adverse implications did not occur "
                        "(required when it names any)")


class EffectivenessCheck(_Body):
    verifier: Name = Field(description="someone other than the action owners")
    text: LongText = Field(min_length=1, description="what was checked and what was seen")
    evidence: LongText = Field(min_length=1, description="link, report or measurement")


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
    adverse_implications: str | None = None
    adverse_check: str | None = None
    entity: str | None = Field(None, description="the peer a preventive action protects (举一反三)")
    assigned_verifier: str | None = Field(None, description="who is to verify it, named when "
                                                            "it was planned")


class EffectivenessFailureRead(BaseModel):
    alert_id: str
    alert: str
    entity: str
    fired_at: datetime
    day: int = Field(description="the window's day it fired on, the first day being 1")
    reason: str


class SilenceRead(BaseModel):
    rule: str
    metric: str
    entity: str
    since: datetime = Field(description="the last sample before the silence")


class EffectivenessRead(BaseModel):
    fingerprint: str | None = Field(description="the alert watched; none for a manual incident")
    window_seconds: float | None
    window_reason: str | None = Field(None, description="why the window is longer than the "
                                      "severity's setting: the alert's rule evaluates less often")
    started_at: datetime | None
    ends_at: datetime | None = Field(description="when the case closes if the alert stays clear")
    failures: list[EffectivenessFailureRead]
    check: dict[str, Any] | None = Field(description="a manual incident's effectiveness check")
    silence: SilenceRead | None = Field(None, description="the watched metric sends no samples "
                                        "(the detector's MetricSilent): the case cannot close")
    held_open: str | None = Field(None, description="why the window's end passed without "
                                  "closing the case: its metric was silent")
    unobserved_seconds: float = Field(0.0, description="silent time inside the window, by "
                                      "which it was lengthened")


class RecurrenceItemRead(BaseModel):
    incident_id: str
    ref: str
    closed_at: datetime = Field(description="when the case had closed")
    recurred_at: datetime = Field(description="when the returning incident opened")
    reason: str


class ProblemRecurrenceRead(BaseModel):
    capa_id: str
    ref: str
    closed_at: datetime
    after_seconds: float = Field(description="from its closure to this incident's opening")
    category: str
    problem_type: str
    reason: str


class RecurrenceRead(BaseModel):
    recurrences: list[RecurrenceItemRead] = Field(
        description="returns of the case's alert within the recurrence period, each of which "
                    "reopened it")
    previous_cases: list[str] = Field(
        description="closed cases of the same alert, returned beyond the period")
    problem_recurrences: list[ProblemRecurrenceRead] = Field(
        default_factory=list, description="closed cases on the same entity with the same "
        "root-cause category and problem type, within the recurrence period")


class SystemicRecurrenceRead(BaseModel):
    incident_id: str
    ref: str
    entity: str
    at: datetime
    capa_id: str = Field(description="the case analysing this return")
    previous: str = Field(description="the closed case it returned after")


class SystemicProblemRead(BaseModel):
    id: UUID
    signature: str
    rule: str
    summary: str
    threshold: int
    period_seconds: float
    raised_at: datetime
    entities: list[str]
    capa_ids: list[str] = Field(description="the linked cases")
    recurrences: list[SystemicRecurrenceRead]
    cases: list[LinkedCaseRead] = Field(default_factory=list, description="the linked cases")
    status: CaseStatus = CaseStatus.OPEN
    closed_at: datetime | None = None
    root_cause: RootCauseRead | None = None
    actions: list[ActionRead] = Field(default_factory=list)
    closure_blockers: list[str] = Field(default_factory=list,
                                        description="why it is not closed yet, in words")
    effectiveness: SystemicEffectivenessRead | None = None


class LinkedCaseRead(BaseModel):
    id: str
    ref: str
    entity: str
    status: CaseStatus


class SystemicFailureRead(BaseModel):
    incident_id: str
    ref: str
    entity: str
    opened_at: datetime
    day: int = Field(description="the window's day the signature returned on, the first being 1")
    reason: str


class SystemicEffectivenessRead(BaseModel):
    window_seconds: float = Field(description="how long the signature must stay away everywhere")
    started_at: datetime | None
    ends_at: datetime | None
    failures: list[SystemicFailureRead]
    check: dict[str, Any] | None = Field(description="the person's check that closed it")


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
    drill: bool = Field(False, description="its incident is a drill (演练): no KPI counts it")
    unit_path: list[dict[str, str]] = Field([], description="the organisation's units from the "
                                            "root down to the entity's ({key, name}), as the "
                                            "notifier staffed the incident; [] if unknown")
    root_cause: RootCauseRead | None
    actions: list[ActionRead]
    closure_blockers: list[str] = Field(description="why the case is not closed yet")
    effectiveness: EffectivenessRead
    recurrence: RecurrenceRead
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
    drill: bool = Field(False, description="its incident is a drill (演练)")


class CapaPage(BaseModel):
    items: list[CapaSummaryRead]
    total: int
    limit: int
    offset: int


class SystemicProblemRow(BaseModel):
    id: UUID
    signature: str
    rule: str
    summary: str
    status: CaseStatus
    recurrences: int
    entities: list[str]
    raised_at: datetime
    closed_at: datetime | None


class SystemicProblemPage(BaseModel):
    items: list[SystemicProblemRow]
    total: int
    limit: int
    offset: int

