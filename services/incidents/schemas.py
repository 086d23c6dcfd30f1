"""The incidents API vocabulary: what clients send and what they read back."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from shared.limits import LongText, Name

from services.incidents.domain import RaciRole, Severity, Status, Verdict
from services.incidents.triage_schemas import StormRead
from services.incidents.intake.schemas import IntakeRead
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
    close_by: datetime | None = Field(None, description="the closure deadline (policy)")
    close_breached: bool = False
    at_risk: bool = Field(False, description="a deadline was warned at risk and still runs")
    paused_since: datetime | None = Field(None, description="awaiting the requester since")
    responsible: str | None = None
    accountable: str | None = None
    capa_id: str | None = None
    drill: bool = False
    observe_ends_at: datetime | None = None
    next_update_by: datetime | None = Field(None, description=(
        "when the next progress update is due; none once resolved (docs/progress-cadence.md)"))

    @model_validator(mode="after")
    def _cadence_ends_with_the_resolution(self) -> "IncidentSummary":
        # The row keeps the last due time; updates are owed only until the resolution.
        if self.resolved_at is not None or self.closed_at is not None:
            self.next_update_by = None
        return self


class Closing(BaseModel):
    path: str = Field(description="required (a CAPA case closes it), optional (a person "
                                  "closes it with a note, or opens a case), observe (closes "
                                  "by itself when its alert stays clear), false_positive")
    observe_seconds: float | None = Field(None, description="the observation window")
    observe_started_at: datetime | None = Field(
        None, description="when the window started (none while the alert still fires)")
    observe_ends_at: datetime | None = None
    observations_failed: int = Field(0, description="windows the alert fired in")
    capa_requested: bool = Field(False, description="someone asked for a CAPA case")
    closed_via: str | None = Field(None, description="how it closed: capa, false_positive, "
                                                     "optional, observe")
    closed_by: str | None = None
    note: str = ""


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    total: int
    next_cursor: str | None = Field(None, description="pass as cursor for the next page; "
                                    "none on the last")


class ProgressCadenceRead(BaseModel):
    """The progress cadence (进展汇报, docs/progress-cadence.md)."""
    next_update_by: datetime | None = Field(None, description=(
        "when the next progress update is due; none once resolved or without a cadence"))
    overdue: bool = Field(False, description="the next update is due and has not come")
    since: datetime | None = Field(None, description=(
        "the start of the interval: the opening, the reopening or the last update"))
    stated: bool = Field(False, description="the last update's author stated the time")
    last_update_at: datetime | None = None


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
    sla_breaches: list[str] = Field(
        description='deadlines missed: "respond", "resolve", "close"')
    close_by: datetime | None = Field(
        None, description="the closure deadline, set on resolution when the policy has one")
    at_risk: list[str] = Field([], description="running deadlines warned at risk")
    at_risk_by: dict[str, datetime] = Field(
        {}, description="when each deadline becomes at risk (the policy's share of it)")
    paused_since: datetime | None = Field(
        None, description="awaiting the requester (待用户确认) since; the SLA clocks stop")
    sla_policy: str | None = Field(None, description="the SLA policy applied (none: defaults)")
    raci: dict[str, list[str]] = Field(description="people by RACI role")
    closed_at: datetime | None = None
    archived_at: datetime | None = None
    reporter: str | None = Field(None, description="who declared it by hand (its requester)")
    followers: list[str] = Field([], description="people told of its lifecycle and progress")
    progress_updates: int = Field(0, description="progress updates posted on it")
    progress: ProgressCadenceRead = Field(default_factory=ProgressCadenceRead)
    reopened: int = Field(0, description="times it was reopened")
    storm: StormRead | None = Field(None, description="a storm incident's counts")
    closing: Closing | None = Field(None, description="how the resolved incident closes")
    drill: bool = Field(False, description="an exercise (演练), kept out of every KPI")
    drill_reason: str | None = None
    intake: IntakeRead | None = Field(None, description=(
        "declared by hand: how it came in, the report and its classification"))
    support: SupportState = Field(default_factory=SupportState,
                                  description="support tier, hand-overs, requester's score")
    version: int
    timeline: list[TimelineEntry]
