"""What an integration is given (a target and a notification) and what it answers (an
outcome that says whether trying again could help)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.notifier.domain.common import ErrorClass


@dataclass(frozen=True)
class Target:
    kind: str
    url: str = field(repr=False)  # an Apprise or SMTP URL holds tokens and passwords
    secret: str = field(repr=False)  # never printed, never logged
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    # The secret before a rotation, while its grace window lasts: receivers not yet told the
    # new one can still check this signature.
    previous_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Notification:
    """One attempt of one delivery."""

    delivery_id: str
    attempt: int
    reason: str
    incident: dict[str, Any]  # incident_id, ref, severity, title, entity
    occurred_at: datetime
    # The person it is for: handle, name, language, time_zone, medium, address.
    recipient: dict[str, str] | None = None
    about: dict[str, Any] | None = None  # what a chase is about: deadline, subject, due_at
    # What the opening measured (metric, value, threshold, firing_since), its SLA (opened_at,
    # respond_by, resolve_by) and who was Responsible: what messages show; None when unknown.
    facts: dict[str, Any] | None = None
    # Messages held back by the person's rate limit, told in this one (ref, title, reason).
    folded: tuple[dict[str, str], ...] = ()
    ack_url: str | None = field(default=None, repr=False)  # one-click acknowledge: a credential


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    retryable: bool = False
    error_class: ErrorClass | None = None
    # Why the shipped template was used instead of the operator's (messages/render.py):
    # recorded with the attempt so the odd-looking message explains itself.
    fallback_reason: str | None = None

    @classmethod
    def success(cls, status_code: int | None, *, fallback_reason: str | None = None) -> "Outcome":
        return cls(True, status_code, fallback_reason=fallback_reason)

    @classmethod
    def failure(cls, error: str, error_class: ErrorClass, *, retryable: bool,
                status_code: int | None = None,
                fallback_reason: str | None = None) -> "Outcome":
        return cls(False, status_code, error, retryable, error_class, fallback_reason)


class Integration(Protocol):
    async def send(self, target: Target, notification: Notification,
                   sent_at: datetime) -> Outcome: ...
