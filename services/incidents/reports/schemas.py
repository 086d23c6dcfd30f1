"""What the reports answer, for the OpenAPI document (the routes build plain dicts; these
describe them). A rate is null with a note when there was nothing to divide."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PeriodRead(BaseModel):
    from_: str = Field(alias="from", description="start (inclusive)")
    to: str = Field(description="end (exclusive)")
    week: str | None = Field(description="the ISO week, when asked by week")
    time_zone: str
    as_of: str = Field(description="facts recorded before this count: the end, or now")


class Rate(BaseModel):
    rate: float | None = Field(description="0–1, rounded to 4 places; null: nothing to count")
    note: str | None = Field(description="why the rate is null")


class LineRead(BaseModel):
    kind: str = Field(description="respond (opened→acknowledged), resolve (opened→resolved) "
                                   "or close (resolved→closed)")
    standard_seconds: float | None = Field(description="the policy's target; null: none")
    incidents: int
    done: int = Field(description="how many reached the line's end by as_of")
    average_seconds: float | None
    p90_seconds: float | None = Field(description="percentile_cont(0.9) over those done")
    met: int
    missed: int = Field(description="done after their deadline, or not done and overdue")
    attainment: float | None = Field(description="met / (met + missed)")
    passed: bool | None = Field(description="attainment ≥ required_share; null: no target "
                                            "or nothing judged")
    failed: list[str] = Field(description="refs of the incidents that missed, oldest first")
    note: str | None


class ClosureRead(Rate):
    opened: int
    closed: int = Field(description="of those opened in the period, closed by as_of")


class SeverityRead(BaseModel):
    severity: str
    policy: str
    opened: int
    lines: list[LineRead]
    closure: ClosureRead


class SelfCheckRead(BaseModel):
    period: PeriodRead
    unit: str | None
    required_share: float
    opened: int
    severities: list[SeverityRead]
    closure: ClosureRead = Field(description="问题闭环率 over every severity")
    note: str | None


class ResponseTimesRead(BaseModel):
    period: PeriodRead
    unit: str | None
    bucket: str
    by: str
    points: list[dict[str, Any]] = Field(description=(
        "bucket (its first day), the group under the name of `by`, incidents, acknowledged, "
        "mtta_seconds, resolved, mttr_seconds"))
    note: str | None


class FirstLineRead(Rate):
    resolved_in_tiers: int
    first_line: int


class AttainmentRead(Rate):
    met: int
    missed: int


class ReopenedRead(Rate):
    count: int
    refs: list[str]


class KpisRead(BaseModel):
    period: PeriodRead
    unit: str | None
    opened: int
    first_line_resolution: FirstLineRead
    sla_attainment: dict[str, AttainmentRead] = Field(description="respond, resolve, close")
    reopened: ReopenedRead
    note: str | None


class RepeatRead(BaseModel):
    problem: str = Field(description="entity · problem type (else alert name)")
    entity: str
    problem_type: str | None
    incidents: int
    refs: list[str]
    last_opened_at: str


class RepeatsRead(BaseModel):
    period: PeriodRead
    unit: str | None
    items: list[RepeatRead]
    note: str | None
