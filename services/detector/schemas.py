"""Detector API vocabulary."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from services.detector.domain import Operator, Severity


class Sample(BaseModel):
    metric: str = Field(min_length=1, max_length=200, examples=["store.nps"])
    entity: str = Field(min_length=1, max_length=200, examples=["store-042"])
    labels: dict[str, str] = Field(default_factory=dict)
    ts: AwareDatetime | None = Field(None, description="sample time with a timezone; defaults to now")
    value: float

    @field_validator("value")
    @classmethod
    def finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("value must be a finite number (NaN and infinity are refused)")
        return value


class SampleBatch(BaseModel):
    samples: list[Sample] = Field(min_length=1)


class IngestResult(BaseModel):
    accepted: int
    raised: int
    resolved: int


class RuleCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    metric: str = Field(min_length=1, max_length=200)
    operator: Operator
    threshold: float
    severity: Severity
    labels: dict[str, str] = Field(default_factory=dict, description="only series with these labels")
    description: str = ""

    @field_validator("threshold")
    @classmethod
    def finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("threshold must be a finite number")
        return value


class RuleUpdate(BaseModel):
    threshold: float | None = None
    severity: Severity | None = None
    description: str | None = None
    enabled: bool | None = None


class RuleRead(BaseModel):
    id: UUID
    name: str
    metric: str
    operator: Operator
    threshold: float
    severity: Severity
    labels: dict[str, str]
    description: str
    enabled: bool
    version: int


class AlertRead(BaseModel):
    fingerprint: str
    alert_id: str
    source: str
    name: str
    entity: str
    severity: str
    status: str
    value: float | None = None
    threshold: float | None = None
    rule_id: str | None = None
    summary: str = ""
    started_at: datetime | None = None
    resolved_at: datetime | None = None


class AlertmanagerAlert(BaseModel):
    """One alert as Alertmanager sends it (webhook v4) or as its API v2 accepts it."""

    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    status: str | None = Field(None, pattern="^(firing|resolved)$")
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None

    @field_validator("startsAt", "endsAt")
    @classmethod
    def aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class AlertmanagerWebhook(BaseModel):
    version: str = "4"
    status: str | None = Field(None, pattern="^(firing|resolved)$")
    receiver: str | None = None
    groupKey: str | None = None
    alerts: list[AlertmanagerAlert]
    groupLabels: dict[str, Any] = Field(default_factory=dict)
    commonLabels: dict[str, Any] = Field(default_factory=dict)
    externalURL: str | None = None
