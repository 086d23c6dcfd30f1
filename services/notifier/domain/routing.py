"""Where messages go: escalation policies, and the directory that lists channels and policies."""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.cadence import (
    DEFAULT_TIME_ZONE, OFF, Cadence, Every, normalised_digest,
)
from services.notifier.domain.common import Cause, Severity, key_id
from services.notifier.domain.ladder import Ladder, TargetKind
from shared.errors import DomainError, Invalid


class EscalationPolicy(Aggregate):
    """Which severities it covers and its ladder: who is told when the incident opens, and
    who next while nobody acknowledges (ladder.py). `notify`, `escalate_after_seconds` and
    `escalate_to` are the shorthand for a two-step ladder of channels. A digest policy
    (`digest: daily|weekly`) pages nobody: its step 0's people and channels find the
    incident in their next digest instead (domain/cadence.py, digests/)."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return key_id(f"policy:{name}")

    @classmethod
    def define(cls, *, name: str, severities: list[str], at: datetime, actor: str,
               cause: Cause, id: UUID | None = None, **ladder: Any,  # noqa: A002
               ) -> "EscalationPolicy":
        definition = cls.normalised(name=name, severities=severities, **ladder)
        fields = dict(**definition, at=at, actor=actor, cause=cause)
        # An explicit id when the name's own id is still held by a since-renamed policy.
        return cls._create(cls.Defined, id=id, **fields) if id else cls(**fields)

    @classmethod
    def normalised(cls, *, name: str, severities: list[str], steps: list[dict] | None = None,
                   repeat: int = 0, notify: list[str] | None = None,
                   escalate_after_seconds: float | None = None,
                   escalate_to: list[str] | None = None,
                   retrigger_after_seconds: float | None = None, digest: str | None = None,
                   digest_at: str | None = None, digest_weekday: str | None = None,
                   digest_time_zone: str | None = None) -> dict:
        """The stored definition: {name, severities, steps, repeat, retrigger_after_seconds,
        digest, digest_at, digest_weekday, digest_time_zone}; the shorthand fields become the
        two steps they stand for."""
        check_severities(name, severities)
        if steps is None:
            steps = shorthand_ladder(notify, escalate_after_seconds, escalate_to or []).as_list()
        ladder = Ladder.parse(steps, repeat, retrigger_seconds=retrigger_after_seconds)
        return {"name": name, "severities": [str(s) for s in severities],
                "steps": ladder.as_list(), "repeat": ladder.repeat,
                "retrigger_after_seconds": ladder.retrigger_seconds,
                **normalised_digest(digest, digest_at, digest_weekday, digest_time_zone)}

    @event("Defined")
    def __init__(self, name: str, severities: list[str], at: datetime, actor: str, cause: Cause,
                 steps: list[dict] | None = None, repeat: int = 0,
                 notify: list[str] = (), escalate_after_seconds: float = 0.0,
                 escalate_to: list[str] = (), retrigger_after_seconds: float | None = None,
                 digest: str | None = None, digest_at: str | None = None,
                 digest_weekday: str | None = None, digest_time_zone: str | None = None,
                 ) -> None:
        self._define(name, severities, steps, repeat, notify, escalate_after_seconds, escalate_to,
                     retrigger_after_seconds)
        self._digest(digest, digest_at, digest_weekday, digest_time_zone)
        self.defined_at, self.defined_by = at, actor
        self.enabled, self.disabled_why = True, None
        self.updated_at, self.updated_by = at, actor

    def _define(self, name: str, severities: list[str], steps: list[dict] | None, repeat: int,
                notify: list[str], escalate_after_seconds: float, escalate_to: list[str],
                retrigger_after_seconds: float | None) -> None:
        self.name, self.severities = name, [Severity(s) for s in severities]
        self.ladder = ladder_of(steps, repeat, notify, escalate_after_seconds, escalate_to,
                                retrigger_after_seconds)

    def _digest(self, digest: str | None, digest_at: str | None, digest_weekday: str | None,
                digest_time_zone: str | None) -> None:
        self.digest, self.digest_at = digest, digest_at
        self.digest_weekday, self.digest_time_zone = digest_weekday, digest_time_zone

    @property
    def definition(self) -> dict:
        return {"name": self.name, "severities": [str(s) for s in self.severities],
                "steps": self.ladder.as_list(), "repeat": self.ladder.repeat,
                "retrigger_after_seconds": self.ladder.retrigger_seconds,
                "digest": self.digest, "digest_at": self.digest_at,
                "digest_weekday": self.digest_weekday, "digest_time_zone": self.digest_time_zone}

    @property
    def digests(self) -> bool:
        """A digest policy: its incidents are collected, never paged or escalated."""
        return getattr(self, "digest", None) is not None

    def cadence(self, time_zone: str | None) -> Cadence:
        """The digest clock of a recipient in `time_zone` (None: a channel, which reads the
        policy's zone)."""
        return Cadence.of(self.digest, self.digest_at, self.digest_weekday,
                          time_zone or self.digest_time_zone or DEFAULT_TIME_ZONE)

    @property
    def shorthand(self) -> dict:
        """The ladder read as the shorthand fields: step 0's channels, its delay, step 1's
        channels (other kinds of targets are only in `steps`)."""
        return shorthand_of(self.ladder)

    # Kept for code that reads a policy's channels.
    notify = property(lambda self: self.shorthand["notify"])
    escalate_to = property(lambda self: self.shorthand["escalate_to"])

    def people(self) -> list[str]:
        """The handles its ladder names."""
        return [t.ref for step in self.ladder.steps for t in step.targets
                if t.kind is TargetKind.PERSON]

    def matches(self, severity: str) -> bool:
        """A disabled policy matches nothing."""
        return self.enabled and severity in self.severities

    # -- commands -------------------------------------------------------------------------
    def revise(self, changes: dict, at: datetime, actor: str, cause: Cause) -> bool:
        """Apply the given fields over the current definition; False when nothing changes.
        Shorthand fields replace the ladder with the two channel steps they stand for."""
        current = self.definition
        if SHORTHAND & changes.keys():
            current.pop("steps")
            current.update({**self.shorthand, **changes})
            current.pop("steps", None)
        else:
            current.update(changes)
        if "digest" in changes:  # a new cadence does not inherit details it has no use for
            dropped = (("digest_at", "digest_weekday", "digest_time_zone")
                       if changes["digest"] in (None, OFF) else
                       ("digest_weekday",) if changes["digest"] == Every.DAILY else ())
            for field in set(dropped) - changes.keys():
                current[field] = None
        revised = self.normalised(**current)
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
    def _revise(self, name: str, severities: list[str], at: datetime, actor: str, cause: Cause,
                steps: list[dict] | None = None, repeat: int = 0, notify: list[str] = (),
                escalate_after_seconds: float = 0.0, escalate_to: list[str] = (),
                retrigger_after_seconds: float | None = None, digest: str | None = None,
                digest_at: str | None = None, digest_weekday: str | None = None,
                digest_time_zone: str | None = None) -> None:
        self._define(name, severities, steps, repeat, notify, escalate_after_seconds, escalate_to,
                     retrigger_after_seconds)
        self._digest(digest, digest_at, digest_weekday, digest_time_zone)
        self.updated_at, self.updated_by = at, actor

    @event("Disabled")
    def _disable(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.enabled, self.disabled_why = False, why
        self.updated_at, self.updated_by = at, actor

    @event("Enabled")
    def _enable(self, at: datetime, actor: str, cause: Cause) -> None:
        self.enabled, self.disabled_why = True, None
        self.updated_at, self.updated_by = at, actor


SHORTHAND = {"notify", "escalate_after_seconds", "escalate_to"}


def ladder_of(steps: list[dict] | None, repeat: int, notify: list[str] = (),
              escalate_after_seconds: float = 0.0, escalate_to: list[str] = (),
              retrigger_after_seconds: float | None = None) -> Ladder:
    """A stored definition's ladder: policies defined before ladders stored the shorthand
    fields only."""
    if steps is None:
        return Ladder.from_channels(list(notify), escalate_after_seconds, list(escalate_to))
    return Ladder.parse(steps, repeat, retrigger_seconds=retrigger_after_seconds)


def shorthand_of(ladder: Ladder) -> dict:
    def channels(step: int) -> list[str]:
        if step >= len(ladder.steps):
            return []
        return [t.ref for t in ladder.targets(step) if t.kind is TargetKind.CHANNEL]

    return {"notify": channels(0), "escalate_after_seconds": ladder.steps[0].delay_seconds,
            "escalate_to": channels(1)}


def check_severities(name: str, severities: list[str]) -> None:
    if not name.strip():
        raise InvalidPolicy("name", "a policy needs a name")
    if not severities:
        raise InvalidPolicy("severities", "list at least one severity (P0..P3)")
    unknown = [s for s in severities if s not in Severity.__members__.values()]
    if unknown:
        raise InvalidPolicy("severities", f"{', '.join(map(str, unknown))} is not one of "
                            f"{', '.join(Severity)}")


def shorthand_ladder(notify: list[str] | None, escalate_after_seconds: float | None,
                     escalate_to: list[str]) -> Ladder:
    if not notify:
        raise InvalidPolicy("notify", "list at least one channel to notify (or give `steps`)")
    for field, channels in (("notify", notify), ("escalate_to", escalate_to)):
        if len(set(map(str, channels))) != len(channels):
            raise InvalidPolicy(field, "a channel is listed twice")
    if escalate_after_seconds is None or not math.isfinite(escalate_after_seconds) \
            or escalate_after_seconds <= 0:
        raise InvalidPolicy("escalate_after_seconds", "must be a positive number of "
                            f"seconds, got {escalate_after_seconds}")
    return Ladder.from_channels([str(c) for c in notify], float(escalate_after_seconds),
                                [str(c) for c in escalate_to])


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
