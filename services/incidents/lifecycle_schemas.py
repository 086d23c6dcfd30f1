"""What clients send for the lifecycle commands (declare, severity, reopen, progress,
follow); they read back an IncidentRead."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field, ValidationInfo, field_validator

from shared.limits import LongText, Name, Title

from services.incidents.domain import Severity
from services.incidents.domain.cadence import STATED_AT_MOST
from services.incidents.sla_policies import parse_duration
from services.incidents.intake.schemas import Link, ProblemTypeId
from services.incidents.intake.vocabulary import Source


class IncidentDeclare(BaseModel):
    severity: Severity | None = Field(None, description=(
        "P0 (most urgent) to P3; omitted: the classifier's proposal"))
    title: Title
    entity: Name = Field(description="what is affected, e.g. store-017")
    summary: LongText = ""
    reporter: Name = Field(description="who reports it; they follow it from the start")
    drill: bool = Field(False, description="an exercise (演练): shown as a drill everywhere "
                                           "and kept out of every KPI")
    # Manual intake (docs/manual-intake.md): how it came in, the report, and its classification.
    source: Source | None = Field(None, description=(
        "ticket, im, phone, email, complaint, public_opinion or inspection"))
    description: LongText = Field("", description="the report as the person gave it")
    attachments: list[Link] = Field([], max_length=20,
                                    description="links to photos, recordings, documents")
    problem_type: ProblemTypeId | None = Field(None, description=(
        "omitted: the classifier's proposal; given and different: a correction"))


class SeverityChange(BaseModel):
    severity: Severity = Field(description="P0 (most urgent) to P3")
    reason: LongText = Field(min_length=1, description="why the severity changes")
    by: Name = Field(description="who changes it")


class IncidentReopen(BaseModel):
    reason: LongText = Field(min_length=1, description="why service is not restored after all")
    by: Name = Field(description="who reopens it")


class ProgressPost(BaseModel):
    text: LongText = Field(min_length=1, description="what happened, what is next")
    author: Name
    next_update_at: AwareDatetime | None = Field(None, description=(
        "when the next update will come (with a time zone); omitted: the severity's "
        "cadence from now (docs/progress-cadence.md)"))
    next_update_in: str | float | None = Field(None, description=(
        "or how long until the next update: 30m, 2h, 1h30m or seconds (at most 7d)"))

    @field_validator("next_update_in")
    @classmethod
    def _next_in(cls, value: Any, info: ValidationInfo) -> timedelta | None:
        if value is None:
            return None
        if info.data.get("next_update_at") is not None:
            raise ValueError("give next_update_at or next_update_in, not both")
        every = parse_duration(value)
        if every > STATED_AT_MOST:
            raise ValueError("at most 7d: post an update before then")
        return every


class FollowChange(BaseModel):
    person: Name = Field(description="the follower's handle")
    by: Name = Field(description="who asks (usually the follower)")
