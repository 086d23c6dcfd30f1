"""The escalation timer of one incident: waiting until due, then it fires once, unless an
acknowledgement (or resolution) stops it first."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, Reason, key_id
from shared.errors import DomainError


class EscalationStatus(StrEnum):
    WAITING = "waiting"
    ESCALATED = "escalated"
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
    """`escalate_to` holds {"id", "name"} of each channel, copied when the timer starts so
    firing needs nothing but this aggregate."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(incident_id)

    @event("Started")
    def __init__(self, incident_id: str, ref: str, severity: str, title: str, entity: str,
                 opened_at: datetime, due_at: datetime, escalate_to: list[dict[str, str]],
                 policy_ids: list[str], at: datetime, actor: str, cause: Cause) -> None:
        self.incident_id, self.ref, self.severity = incident_id, ref, severity
        self.title, self.entity = title, entity
        self.opened_at, self.due_at = opened_at, due_at
        self.escalate_to, self.policy_ids = escalate_to, policy_ids
        self.status = EscalationStatus.WAITING
        self.step = 0
        self.correlation_id = cause.get("correlation_id")

    # -- commands -------------------------------------------------------------------------
    def escalate(self, at: datetime, actor: str, cause: Cause) -> None:
        self.check_waiting()
        self.check_due(at)
        self._escalate(step=1, reason=str(Reason.ESCALATION_STEP1), incident_id=self.incident_id,
                       ref=self.ref, channel_ids=[c["id"] for c in self.escalate_to],
                       channel_names=[c["name"] for c in self.escalate_to],
                       waited_seconds=(at - self.opened_at).total_seconds(),
                       at=at, actor=actor, cause=cause)

    def stop(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        """Stop the timer; a no-op (False) once it has fired or was already stopped."""
        if self.status is not EscalationStatus.WAITING:
            return False
        self._stop(why=why, at=at, actor=actor, cause=cause)
        return True

    # -- events ---------------------------------------------------------------------------
    @event("Escalated")
    def _escalate(self, step: int, reason: str, incident_id: str, ref: str,
                  channel_ids: list[str], waited_seconds: float, at: datetime, actor: str,
                  cause: Cause, channel_names: tuple[str, ...] = ()) -> None:
        self.status, self.step, self.escalated_at = EscalationStatus.ESCALATED, step, at

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
