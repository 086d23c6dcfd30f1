"""The escalation timer of one incident: waiting until due, then it fires once, unless an
acknowledgement (or resolution) stops it first."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.domain.ladder import Fired, Ladder, TargetKind
from shared.errors import DomainError


class EscalationStatus(StrEnum):
    WAITING = "waiting"  # a step is due later
    ESCALATED = "escalated"  # every step (and repeat) has fired
    STOPPED = "stopped"


class EarlyStop(Aggregate):
    """An acknowledgement (or resolution) that arrived before its IncidentOpened — replicas and
    retries can reorder messages. It keeps the late opening from starting a timer."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        # The escalation's own id: an opening and an acknowledgement handled at once collide
        # (optimistic concurrency) instead of leaving both a timer and a stop behind.
        return Escalation.create_id(incident_id)

    @event("Recorded")
    def __init__(self, incident_id: str, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.incident_id, self.why = incident_id, why


class Escalation(Aggregate):
    """One incident's climb up its ladder: waiting for the next step until it is due, then
    that step fires (once), until the ladder and its repeats are done or an acknowledgement
    (or resolution) stops it. The ladder is copied when the incident opens, so an open
    incident keeps the ladder it started with; step 0 was told at the opening."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(incident_id)

    @event("Started")
    def __init__(self, incident_id: str, ref: str, severity: str, title: str, entity: str,
                 opened_at: datetime, due_at: datetime, escalate_to: list[dict[str, str]],
                 policy_ids: list[str], at: datetime, actor: str, cause: Cause,
                 steps: list[dict] | None = None, repeat: int = 0) -> None:
        self.incident_id, self.ref, self.severity = incident_id, ref, severity
        self.title, self.entity = title, entity
        self.opened_at, self.due_at = opened_at, due_at
        self.escalate_to, self.policy_ids = escalate_to, policy_ids
        if steps is None:  # started before ladders: one step of channels, due once
            self.ladder = Ladder.from_channels([], (due_at - opened_at).total_seconds(),
                                               [c["id"] for c in escalate_to])
        else:
            self.ladder = Ladder.parse(steps, repeat)
        self.next: Fired | None = self.ladder.after(Fired(0, 0))
        self.status = EscalationStatus.WAITING
        self.step = 0
        self.correlation_id = cause.get("correlation_id")

    @classmethod
    def start(cls, *, incident: dict[str, str], opened_at: datetime, ladder: Ladder,
              policy_ids: list[str], channel_names: dict[str, str], at: datetime, actor: str,
              cause: Cause) -> "Escalation | None":
        """The timer for the steps after step 0 (told at the opening); None when there are
        none."""
        following = ladder.next_due(Fired(0, 0), opened_at)
        if following is None:
            return None
        step1 = ladder.targets(following[0].step)
        escalate_to = [{"id": t.ref, "name": channel_names.get(t.ref, t.ref)}
                       for t in step1 if t.kind is TargetKind.CHANNEL]
        return cls(**incident, opened_at=opened_at, due_at=following[1], escalate_to=escalate_to,
                   policy_ids=policy_ids, steps=ladder.as_list(), repeat=ladder.repeat, at=at,
                   actor=actor, cause=cause)

    # -- commands -------------------------------------------------------------------------
    def due_step(self, at: datetime) -> Fired:
        """The step to fire now; refused when stopped, done, or not due yet."""
        self.check_waiting()
        self.check_due(at)
        assert self.next is not None  # waiting means a step is next
        return self.next

    def escalate(self, told: list[dict[str, str]], at: datetime, actor: str,
                 cause: Cause) -> Fired:
        """Fire the due step. `told` says who its targets resolved to ({"channel_id",
        "channel_name", and for a person "person"}, plus the "target" that led there)."""
        fired = self.due_step(at)
        following = self.ladder.next_due(fired, at)
        channels = dict.fromkeys((t["channel_id"], t["channel_name"]) for t in told)
        self._escalate(step=fired.step, reason=fired.reason, incident_id=self.incident_id,
                       ref=self.ref, channel_ids=[c for c, _ in channels],
                       channel_names=[n for _, n in channels],
                       waited_seconds=(at - self.opened_at).total_seconds(), told=told,
                       round=fired.round,
                       next_step=following[0].step if following else None,
                       next_round=following[0].round if following else None,
                       next_due_at=following[1] if following else None,
                       at=at, actor=actor, cause=cause)
        return fired

    def stop(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        """Stop the climb; a no-op (False) once the ladder is done or was already stopped."""
        if self.status is not EscalationStatus.WAITING:
            return False
        self._stop(why=why, at=at, actor=actor, cause=cause)
        return True

    # -- events ---------------------------------------------------------------------------
    @event("Escalated")
    def _escalate(self, step: int, reason: str, incident_id: str, ref: str,
                  channel_ids: list[str], waited_seconds: float, at: datetime, actor: str,
                  cause: Cause, channel_names: tuple[str, ...] = (), told: list[dict] = (),
                  round: int = 0, next_step: int | None = None,  # noqa: A002
                  next_round: int | None = None, next_due_at: datetime | None = None) -> None:
        self.step, self.escalated_at = step, at
        if next_due_at is None:
            self.status, self.next = EscalationStatus.ESCALATED, None
        else:
            self.next, self.due_at = Fired(next_step, next_round), next_due_at

    @event("Stopped")
    def _stop(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.status, self.stopped_why, self.stopped_at = EscalationStatus.STOPPED, why, at

    # -- guards ---------------------------------------------------------------------------
    def check_waiting(self) -> None:
        if self.status is not EscalationStatus.WAITING:
            raise EscalationNotWaiting(
                f"incident {self.ref} cannot escalate: its escalation is already {self.status}")

    def check_due(self, at: datetime) -> None:
        if at < self.due_at:
            raise EscalationNotDue(
                f"incident {self.ref} cannot escalate before {self.due_at.isoformat()}")


class EscalationNotWaiting(DomainError):
    """The escalation already fired or was stopped by an acknowledgement."""


class EscalationNotDue(DomainError):
    """The escalation's delay has not passed yet."""
