"""The notifier's API vocabulary. Secrets go in, never out."""
from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.limits import ITEMS, TITLE, URL, Headers, Name

from services.notifier.domain import ChannelKind, DeliveryStatus, EscalationStatus, Severity
from services.notifier.domain.channel import MAX_GRACE, MIN_SECRET_LENGTH
from services.notifier.domain.ladder import MAX_REPEAT, MAX_STEPS, MAX_TARGETS, TargetKind


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: ChannelKind = ChannelKind.WEBHOOK
    url: str = Field(min_length=1, max_length=URL,
                     description="webhook: the http(s) URL to POST to; wecom, dingtalk, "
                                 "feishu, slack, teams, sms, apprise: an Apprise URL; email: "
                                 "smtps://user:password@host:465/?from=alerts@example.com. "
                                 "Stored sealed except a webhook's; shown masked")
    secret: str | None = Field(None, min_length=MIN_SECRET_LENGTH, max_length=TITLE,
                               description="webhook only (required there): HMAC-SHA256 key; "
                                           "each body is signed with it")
    headers: Headers = Field(default_factory=dict,
                             description="extra request headers (not X-Closedloop-*)")


class ChannelUpdate(BaseModel):
    """Only the fields given change. `headers` replaces the whole set."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    url: str | None = Field(None, min_length=1, max_length=2000)
    headers: dict[str, str] | None = None
    enabled: bool | None = Field(None, description="false: deliveries to it are skipped")
    disabled_reason: str | None = Field(None, max_length=500,
                                        description="why it is disabled (shown on deliveries)")


class SecretRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(None, min_length=MIN_SECRET_LENGTH, max_length=500,
                               description="the new secret; omit it to have one generated")
    grace_seconds: float = Field(0, ge=0, le=MAX_GRACE.total_seconds(), allow_inf_nan=False,
                                 description="how long the old secret keeps signing, in "
                                             "X-Closedloop-Signature-Previous")


class ChannelRead(BaseModel):
    id: UUID
    name: str
    kind: ChannelKind
    url: str
    has_secret: bool
    header_names: list[str]
    enabled: bool
    disabled_why: str | None
    created_at: datetime
    updated_at: datetime


class SecretRotated(ChannelRead):
    secret: str = Field(description="shown this once; it is stored sealed")
    previous_secret_signs_until: datetime | None


class ChannelPage(BaseModel):
    items: list[ChannelRead]
    total: int


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TargetKind = Field(description="channel (an id), person (a handle), schedule, team, "
                                         "or role (held for the incident's entity)")
    ref: str = Field(min_length=1, max_length=200)


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[TargetIn] = Field(min_length=1, max_length=MAX_TARGETS)
    delay_seconds: float = Field(gt=0, allow_inf_nan=False,
                                 description="how long this step waits for an "
                                             "acknowledgement before the next one")


class PolicyCreate(BaseModel):
    """Either `steps` (a ladder) or the shorthand `notify` + `escalate_after_seconds` (+
    `escalate_to`): channels told at once, other channels after the delay."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    severities: list[Severity] = Field(min_length=1, max_length=len(Severity))
    steps: list[StepIn] | None = Field(None, min_length=1, max_length=MAX_STEPS,
                                       description="step 0 is told when the incident opens")
    repeat: int = Field(0, ge=0, le=MAX_REPEAT,
                        description="times the whole ladder starts again after its last step")
    notify: list[UUID] | None = Field(None, min_length=1, max_length=ITEMS,
                                      description="channel ids told when it opens")
    escalate_after_seconds: float | None = Field(None, gt=0, allow_inf_nan=False)
    escalate_to: list[UUID] | None = Field(None, max_length=ITEMS,
                                           description="channel ids told when nobody acks in time")
    retrigger_after_seconds: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="acknowledged but not resolved this long: the acknowledger is reminded "
                    "and the ladder resumes; null: an acknowledgement stops it")
    digest: str | None = Field(
        None, max_length=10, description="daily or weekly: its incidents are collected into "
                                         "a digest for step 0's people and channels instead "
                                         "of paging them; null: a paging policy")
    digest_at: str | None = Field(None, max_length=10,
                                  description="HH:MM on the recipient's clock (default 09:00)")
    digest_weekday: str | None = Field(None, max_length=10,
                                       description="weekly digests: mon..sun (default mon)")
    digest_time_zone: str | None = Field(
        None, max_length=64, description="the clock of recipients that are channels rather "
                                         "than people (default Asia/Shanghai); people read "
                                         "their own time zone")


class PolicyUpdate(BaseModel):
    """Only the fields given (and not null) change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    severities: list[Severity] | None = Field(None, min_length=1)
    notify: list[UUID] | None = Field(None, min_length=1)
    escalate_after_seconds: float | None = Field(None, gt=0, allow_inf_nan=False)
    escalate_to: list[UUID] | None = None
    steps: list[StepIn] | None = Field(None, min_length=1, max_length=MAX_STEPS)
    repeat: int | None = Field(None, ge=0, le=MAX_REPEAT)
    retrigger_after_seconds: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="0 switches re-triggering off")
    digest: str | None = Field(
        None, max_length=10, description="daily, weekly or off: its incidents are collected into "
                                         "a digest for step 0's people and channels instead "
                                         "of paging them; off: page again")
    digest_at: str | None = Field(None, max_length=10,
                                  description="HH:MM on the recipient's clock (default 09:00)")
    digest_weekday: str | None = Field(None, max_length=10,
                                       description="weekly digests: mon..sun (default mon)")
    digest_time_zone: str | None = Field(
        None, max_length=64, description="the clock of recipients that are channels rather "
                                         "than people (default Asia/Shanghai); people read "
                                         "their own time zone")
    enabled: bool | None = Field(None, description="false: it matches no incident")
    disabled_reason: str | None = Field(None, max_length=500)


class PolicyRead(BaseModel):
    id: UUID
    name: str
    severities: list[Severity]
    steps: list[StepIn]
    repeat: int
    retrigger_after_seconds: float | None
    digest: str | None = Field(None, description="daily or weekly for a digest policy")
    digest_at: str | None = None
    digest_weekday: str | None = None
    digest_time_zone: str | None = None
    notify: list[str] = Field(description="step 0's channels")
    escalate_after_seconds: float = Field(description="step 0's delay")
    escalate_to: list[str] = Field(description="step 1's channels")
    enabled: bool
    disabled_why: str | None
    created_at: datetime
    updated_at: datetime


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
    person: str | None = Field(None, description="the person it is for (a handle), if any")
    target: str | None = Field(None, description="the ladder target that chose it, e.g. "
                                                 "schedule:sre-primary")
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None = Field(description="the detailed error for managers; a generic "
                                               "one for viewers")
    last_error_class: str | None
    next_attempt_at: datetime | None
    created_at: datetime = Field(description="when it was scheduled: the incident's opening, "
                                             "the step or the chase that made it")
    updated_at: datetime


class AttemptRead(BaseModel):
    attempt: int | None = Field(description="none for what was no attempt: throttled, folded")
    outcome: str  # sending | delivered | failed | skipped | throttled | folded
    started_at: datetime
    finished_at: datetime | None
    status_code: int | None
    error: str | None
    error_class: str | None
    retryable: bool | None
    next_attempt_at: datetime | None
    folded: list[str] = Field(default_factory=list,
                              description="deliveries held back and told in this attempt")
    fallback_reason: str | None = Field(None, description="why the shipped template was used")


class DeliveryDetailRead(DeliveryRead):
    history: list[AttemptRead]


class DeliveryMessageRead(BaseModel):
    delivery_id: UUID
    reason: str
    person: str | None = Field(None, description="the person it was for (a handle), if any")
    channel_name: str
    medium: Literal["chat", "email", "sms"] = Field(
        description="the form shown: the channel's (a webhook's reads as chat), or the one asked")
    language: str
    time_zone: str | None = Field(None, description="the reader's; times in the text are in it")
    rendered_for: datetime = Field(description="the moment it was rendered as of: its last "
                                               "attempt (deadlines and durations count from it)")
    subject: str
    text: str = Field(description="plain text: SMS, e-mail's text part, robots without markdown")
    markdown: str
    html: str
    template: str = Field(description="the template used (override:… for an operator's)")
    fallback_reason: str | None = Field(
        None, description="why the shipped template was used instead of the operator's")


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    total: int


class EscalationRead(BaseModel):
    id: UUID
    incident_id: str
    ref: str
    severity: str
    status: EscalationStatus = Field(description="waiting for its next step, acknowledged "
                                                 "(re-triggers at due_at if still unresolved), "
                                                 "escalated (every step fired), or stopped")
    opened_at: datetime
    due_at: datetime = Field(description="when the next step fires (while waiting) or the "
                                         "re-trigger (while acknowledged)")
    escalate_to: list[UUID] = Field(description="step 1's channels")
    step: int = Field(description="the last step fired (0: the opening's)")
    round: int = Field(description="the pass over the ladder (0: the first)")
    escalated_at: datetime | None
    waited_seconds: float | None
    stopped_why: str | None
    stopped_at: datetime | None
    held_kind: str | None = Field(None, description="silence or maintenance: what holds the "
                                  "step due now; the ladder resumes when it ends")
    held_id: str | None = Field(None, description="the silence or maintenance window")
    held_until: datetime | None = Field(None, description="when the hold is looked at again")
    updated_at: datetime


class EscalationPage(BaseModel):
    items: list[EscalationRead]
    total: int
