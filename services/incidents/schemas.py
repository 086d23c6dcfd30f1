"""The incidents API vocabulary: what clients send and what they read back."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.limits import LongText, Name

from services.incidents.domain import RaciRole, Severity, Status, Verdict
from services.incidents.tier_schemas import SupportState


class IncidentAcknowledge(BaseModel):
    by: Name = Field(description="who takes the incident on")
    note: LongText = ""


class RoleAssign(BaseModel):
    role: RaciRole = Field(description="responsible (负责), accountable (批准), consulted (咨询) "
                                        "or informed (知会)")
    person: Name
    by: Name = Field(description="who makes the assignment")


class IncidentResolve(BaseModel):
    by: Name = Field(description="who restored service")
    summary: LongText = Field(min_length=1,
                              description="what was done to contain it and restore service")
    verdict: Verdict = Field(Verdict.CONFIRMED, description=(
        "confirmed: the alert was real; false_positive: it should not have fired (counts "
        "against the rule's health in the detector)"))


class Cause(BaseModel):
    correlation_id: str | None = None
    causation_id: str | None = None


class TimelineEntry(BaseModel):
    at: datetime
    actor: str
    action: str = Field(description='e.g. "opened", "escalated", "acknowledged", "closed"')
    detail: str = Field(description="who did what, and why, in one sentence")
    cause: Cause


class IncidentSummary(BaseModel):
    """One row of the incidents read model."""

    id: str
    ref: str
    status: Status
    severity: Severity
    title: str
    entity: str
    fingerprint: str
    opened_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    respond_by: datetime
    resolve_by: datetime
    respond_breached: bool = False
    resolve_breached: bool = False
    responsible: str | None = None
    accountable: str | None = None
    capa_id: str | None = None


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    total: int


class IncidentRead(BaseModel):
    id: str
    ref: str
    status: Status
    status_label: str = Field(description="the status in Chinese, e.g. 调查中")
    severity: Severity
    title: str
    entity: str
    fingerprint: str
    occurrence: int = Field(description="how many incidents this fingerprint has had")
    alert_ids: list[str]
    cleared_alert_ids: list[str]
    opened_at: datetime
    respond_by: datetime
    resolve_by: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str = ""
    capa_id: str | None = None
    root_cause: str | None = None
    verified_action_ids: list[str]
    sla_breaches: list[str] = Field(description='deadlines missed: "respond", "resolve"')
    raci: dict[str, list[str]] = Field(description="people by RACI role")
    closed_at: datetime | None = None
    archived_at: datetime | None = None
    reporter: str | None = Field(None, description="who declared it by hand (its requester)")
    followers: list[str] = Field([], description="people told of its lifecycle and progress")
    progress_updates: int = Field(0, description="progress updates posted on it")
    reopened: int = Field(0, description="times it was reopened")
    support: SupportState = Field(default_factory=SupportState,
                                  description="support tier, hand-overs, requester's score")
    version: int
    timeline: list[TimelineEntry]
