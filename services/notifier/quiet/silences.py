"""A silence, with Alertmanager's meaning: alerts matching all its matchers are held from
`starts_at` until `ends_at`. Expiring it ends it now; an expired silence stays in history."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import uuid4

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause
from services.notifier.quiet.matchers import Matcher, canonical, parse_list
from shared.errors import DomainError, Invalid, NotFound


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class Silence(Aggregate):
    @classmethod
    def create(cls, *, matchers: str | list[str], starts_at: datetime, ends_at: datetime,
               comment: str, at: datetime, actor: str, cause: Cause) -> "Silence":
        parsed = parse_list(matchers)
        cls.check_matchers(parsed)
        cls.check_times(starts_at, ends_at, at)
        if not comment.strip():
            raise Invalid("comment", "say why alerts are silenced (people read it on the "
                          "incident's timeline)")
        return cls._create(cls.Created, id=uuid4(), matchers=canonical(parsed),
                           starts_at=max(starts_at, at), ends_at=ends_at, created_by=actor,
                           comment=comment, at=at, actor=actor, cause=cause)

    @event("Created")
    def __init__(self, matchers: list[str], starts_at: datetime, ends_at: datetime,
                 created_by: str, comment: str, at: datetime, actor: str, cause: Cause) -> None:
        self.matchers, self.comment, self.created_by = matchers, comment, created_by
        self.starts_at, self.ends_at = starts_at, ends_at
        self.created_at = self.updated_at = at
        self.expired_by: str | None = None

    @property
    def parsed(self) -> list[Matcher]:
        return parse_list(self.matchers)

    def state(self, at: datetime) -> SilenceState:
        if at >= self.ends_at:
            return SilenceState.EXPIRED
        return SilenceState.ACTIVE if at >= self.starts_at else SilenceState.PENDING

    def holds(self, labels: dict[str, str], at: datetime) -> bool:
        return self.state(at) is SilenceState.ACTIVE and all(m.matches(labels) for m in self.parsed)

    # -- commands -------------------------------------------------------------------------
    def expire(self, at: datetime, actor: str, cause: Cause) -> None:
        """End it now; a pending silence ends before it began (Alertmanager does the same)."""
        if self.state(at) is SilenceState.EXPIRED:
            raise SilenceExpired(f"silence {self.id} already ended at {self.ends_at.isoformat()}")
        self._expire(starts_at=min(self.starts_at, at), ends_at=at, at=at, actor=actor,
                     cause=cause)

    @event("Expired")
    def _expire(self, starts_at: datetime, ends_at: datetime, at: datetime, actor: str,
                cause: Cause) -> None:
        self.starts_at, self.ends_at = starts_at, ends_at
        self.expired_by, self.updated_at = actor, at

    # -- guards ---------------------------------------------------------------------------
    @staticmethod
    def check_matchers(matchers: list[Matcher]) -> None:
        if not matchers:
            raise Invalid("matchers", "a silence needs at least one matcher")
        if all(m.matches_value("") for m in matchers):
            # It would silence nearly every alert (Alertmanager refuses it too).
            raise Invalid("matchers", "at least one matcher must not match the empty string, "
                          'e.g. alertname="DiskFull"')

    @staticmethod
    def check_times(starts_at: datetime, ends_at: datetime, at: datetime) -> None:
        for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
            if value.tzinfo is None:
                raise Invalid(name, "give a time zone (e.g. 2026-11-02T09:00:00+08:00)")
        if ends_at <= starts_at:
            raise Invalid("ends_at", "must be after starts_at")
        if ends_at <= at:
            raise Invalid("ends_at", "is in the past: a silence must end in the future")


class SilenceExpired(DomainError):
    """An expired silence cannot be expired again (HTTP 409)."""


class SilenceNotFound(NotFound):
    pass
