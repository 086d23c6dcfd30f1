"""The notifier's API vocabulary. Secrets go in, never out."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.limits import ITEMS, TITLE, URL, Headers, Name

from services.notifier.domain import ChannelKind, DeliveryStatus, EscalationStatus, Severity
from services.notifier.domain.routing import MIN_SECRET_LENGTH


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: ChannelKind = ChannelKind.WEBHOOK
    url: str = Field(min_length=1, max_length=URL, description="http(s) URL to POST to")
    secret: str = Field(min_length=MIN_SECRET_LENGTH, max_length=TITLE,
                        description="HMAC-SHA256 key; each body is signed with it")
    headers: Headers = Field(default_factory=dict,
                             description="extra request headers (not X-Closedloop-*)")


class ChannelRead(BaseModel):
    id: UUID
    name: str
    kind: ChannelKind
    url: str
    has_secret: bool
    header_names: list[str]
    created_at: datetime


class ChannelPage(BaseModel):
    items: list[ChannelRead]
    total: int


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    severities: list[Severity] = Field(min_length=1, max_length=len(Severity))
    notify: list[UUID] = Field(min_length=1, max_length=ITEMS,
                               description="channel ids told when it opens")
    escalate_after_seconds: float = Field(gt=0, allow_inf_nan=False)
    escalate_to: list[UUID] = Field(default_factory=list, max_length=ITEMS,
                                    description="channel ids told when nobody acks in time")


class PolicyRead(BaseModel):
    id: UUID
    name: str
    severities: list[Severity]
    notify: list[UUID]
    escalate_after_seconds: float
    escalate_to: list[UUID]
    created_at: datetime


class PolicyPage(BaseModel):
    items: list[PolicyRead]
    total: int


class DeliveryRead(BaseModel):
    id: UUID
    incident_id: str
    ref: str
    channel_id: UUID
    channel_name: str
    reason: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    updated_at: datetime


class AttemptRead(BaseModel):
    attempt: int
    outcome: str  # sending | delivered | failed
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    error: str | None
    retryable: bool | None
    next_attempt_at: datetime | None


class DeliveryDetailRead(DeliveryRead):
    history: list[AttemptRead]


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    total: int


class EscalationRead(BaseModel):
    id: UUID
    incident_id: str
    ref: str
    severity: str
    status: EscalationStatus
    opened_at: datetime
    due_at: datetime
    escalate_to: list[UUID]
    escalated_at: datetime | None
    waited_seconds: float | None
    stopped_why: str | None
    stopped_at: datetime | None
    updated_at: datetime


class EscalationPage(BaseModel):
    items: list[EscalationRead]
    total: int
