"""Where messages go: escalation policies, and the directory that lists channels and policies."""
from __future__ import annotations

import math
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, Severity, key_id
from shared.errors import DomainError, Invalid


class EscalationPolicy(Aggregate):
    """Which severities it covers, who is told first, and who is told when nobody acks."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return key_id(f"policy:{name}")

    @classmethod
    def define(cls, *, name: str, severities: list[str], notify: list[str],
               escalate_after_seconds: float, escalate_to: list[str], at: datetime,
               actor: str, cause: Cause, id: UUID | None = None,  # noqa: A002
               ) -> "EscalationPolicy":
        definition = cls.normalised(name=name, severities=severities, notify=notify,
                                    escalate_after_seconds=escalate_after_seconds,
                                    escalate_to=escalate_to)
        fields = dict(**definition, at=at, actor=actor, cause=cause)
        # An explicit id when the name's own id is still held by a since-renamed policy.
        return cls._create(cls.Defined, id=id, **fields) if id else cls(**fields)

    @classmethod
    def normalised(cls, **definition) -> dict:
        cls.check_definition(**definition)
        return {"name": definition["name"],
                "severities": [str(s) for s in definition["severities"]],
                "notify": [str(c) for c in definition["notify"]],
                "escalate_after_seconds": float(definition["escalate_after_seconds"]),
                "escalate_to": [str(c) for c in definition["escalate_to"]]}

    @event("Defined")
    def __init__(self, name: str, severities: list[str], notify: list[str],
                 escalate_after_seconds: float, escalate_to: list[str], at: datetime,
                 actor: str, cause: Cause) -> None:
        self.name = name
        self.severities = [Severity(s) for s in severities]
        self.notify, self.escalate_to = notify, escalate_to
        self.escalate_after_seconds = escalate_after_seconds
        self.defined_at, self.defined_by = at, actor
        self.enabled, self.disabled_why = True, None
        self.updated_at, self.updated_by = at, actor

    @property
    def definition(self) -> dict:
        return {"name": self.name, "severities": [str(s) for s in self.severities],
                "notify": list(self.notify), "escalate_after_seconds": self.escalate_after_seconds,
                "escalate_to": list(self.escalate_to)}

    def matches(self, severity: str) -> bool:
        """A disabled policy matches nothing."""
        return self.enabled and severity in self.severities

    # -- commands -------------------------------------------------------------------------
    def revise(self, changes: dict, at: datetime, actor: str, cause: Cause) -> bool:
        """Apply the given fields over the current definition; False when nothing changes."""
        revised = self.normalised(**{**self.definition, **changes})
        if revised == self.definition:
            return False
        self._revise(**revised, at=at, actor=actor, cause=cause)
        return True

    def disable(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        if not self.enabled:
            return False
        self._disable(why=why, at=at, actor=actor, cause=cause)
        return True

    def enable(self, at: datetime, actor: str, cause: Cause) -> bool:
        if self.enabled:
            return False
        self._enable(at=at, actor=actor, cause=cause)
        return True

    # -- events ---------------------------------------------------------------------------
    @event("Revised")
    def _revise(self, name: str, severities: list[str], notify: list[str],
                escalate_after_seconds: float, escalate_to: list[str], at: datetime,
                actor: str, cause: Cause) -> None:
        self.name, self.severities = name, [Severity(s) for s in severities]
        self.notify, self.escalate_to = notify, escalate_to
        self.escalate_after_seconds = escalate_after_seconds
        self.updated_at, self.updated_by = at, actor

    @event("Disabled")
    def _disable(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.enabled, self.disabled_why = False, why
        self.updated_at, self.updated_by = at, actor

    @event("Enabled")
    def _enable(self, at: datetime, actor: str, cause: Cause) -> None:
        self.enabled, self.disabled_why = True, None
        self.updated_at, self.updated_by = at, actor

    @staticmethod
    def check_definition(*, name: str, severities: list[str], notify: list[str],
                         escalate_after_seconds: float, escalate_to: list[str]) -> None:
        if not name.strip():
            raise InvalidPolicy("name", "a policy needs a name")
        if not severities:
            raise InvalidPolicy("severities", "list at least one severity (P0..P3)")
        unknown = [s for s in severities if s not in Severity.__members__.values()]
        if unknown:
            raise InvalidPolicy("severities", f"{', '.join(map(str, unknown))} is not one of "
                                f"{', '.join(Severity)}")
        if not notify:
            raise InvalidPolicy("notify", "list at least one channel to notify")
        for field, channels in (("notify", notify), ("escalate_to", escalate_to)):
            if len(set(map(str, channels))) != len(channels):
                raise InvalidPolicy(field, "a channel is listed twice")
        if not math.isfinite(escalate_after_seconds) or escalate_after_seconds <= 0:
            raise InvalidPolicy("escalate_after_seconds", "must be a positive number of "
                                f"seconds, got {escalate_after_seconds}")


DIRECTORY_ID = key_id("directory")


class Directory(Aggregate):
    """Lists every channel and policy, so a message handler can find them with get() calls
    instead of reading a table (handlers stay inside the event store)."""

    @staticmethod
    def create_id() -> UUID:
        return DIRECTORY_ID

    @event("Opened")
    def __init__(self, at: datetime, actor: str, cause: Cause) -> None:
        self.channel_ids: list[str] = []
        self.policy_ids: list[str] = []

    def list_channel(self, channel_id: UUID, at: datetime, actor: str, cause: Cause) -> None:
        if str(channel_id) not in self.channel_ids:
            self._list_channel(channel_id=str(channel_id), at=at, actor=actor, cause=cause)

    def list_policy(self, policy_id: UUID, at: datetime, actor: str, cause: Cause) -> None:
        if str(policy_id) not in self.policy_ids:
            self._list_policy(policy_id=str(policy_id), at=at, actor=actor, cause=cause)

    @event("ChannelListed")
    def _list_channel(self, channel_id: str, at: datetime, actor: str, cause: Cause) -> None:
        self.channel_ids.append(channel_id)

    @event("PolicyListed")
    def _list_policy(self, policy_id: str, at: datetime, actor: str, cause: Cause) -> None:
        self.policy_ids.append(policy_id)


class InvalidPolicy(Invalid):
    """A policy definition breaks a rule (HTTP 422 naming the field)."""


class UnknownChannel(Invalid):
    """A policy refers to a channel that was never registered."""


class NameTaken(DomainError):
    """Channel and policy names are unique (their ids derive from them)."""
