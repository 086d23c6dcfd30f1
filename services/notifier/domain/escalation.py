"""The escalation timer of one incident: waiting until due, then it fires once, unless an
acknowledgement (or resolution) stops it first."""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from services.notifier.domain.ladder import Fired, Ladder, TargetKind
from shared.errors import DomainError


class EscalationStatus(StrEnum):
    WAITING = "waiting"  # a step is due later
    ACKNOWLEDGED = "acknowledged"  # re-triggers when still not resolved at due_at
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

    armings = 0  # times the ladder started over (a reopening, a raise to P0/P1)

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(incident_id)

    @event("Started")
    def __init__(self, incident_id: str, ref: str, severity: str, title: str, entity: str,
                 opened_at: datetime, due_at: datetime, escalate_to: list[dict[str, str]],
                 policy_ids: list[str], at: datetime, actor: str, cause: Cause,
                 steps: list[dict] | None = None, repeat: int = 0,
                 retrigger_seconds: float | None = None, facts: dict | None = None) -> None:
        self.incident_id, self.ref, self.severity = incident_id, ref, severity
        self.facts = facts  # the opening's facts, for the messages of later steps
        self.title, self.entity = title, entity
        self.opened_at, self.due_at = opened_at, due_at
        self.escalate_to, self.policy_ids = escalate_to, policy_ids
        if steps is None:  # started before ladders: one step of channels, due once
            self.ladder = Ladder.from_channels([], (due_at - opened_at).total_seconds(),
                                               [c["id"] for c in escalate_to])
        else:
            self.ladder = Ladder.parse(steps, repeat, retrigger_seconds=retrigger_seconds)
        self.last = Fired(0, 0)  # the step told last
        self.next: Fired | None = self.ladder.after(self.last)
        self.acknowledged_by: str | None = None
        self.retriggers = 0
        self.status = EscalationStatus.WAITING
        self.step = 0
        self.correlation_id = cause.get("correlation_id")
        self.held: dict | None = None  # the silence or window holding the due step, if any
        self.held_until: datetime | None = None

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
                   policy_ids=policy_ids, steps=ladder.as_list(), repeat=ladder.repeat,
                   retrigger_seconds=ladder.retrigger_seconds, at=at, actor=actor, cause=cause)

    # -- commands -------------------------------------------------------------------------
    def rearm(self, *, severity: str, ladder: Ladder, policy_ids: list[str],
              channel_names: dict[str, str], started_at: datetime, at: datetime, actor: str,
              cause: Cause) -> None:
        """The incident needs someone again (reopened, or raised to P0/P1 with nobody on
        it): `ladder`, the one its routes choose now, climbs again from step 0, which was
        told at `started_at`. Its steps fire again under reasons of their own
        (reason_of)."""
        following = ladder.next_due(Fired(0, 0), started_at)
        step1 = ladder.targets(following[0].step) if following else ()
        self._rearm(severity=severity, opened_at=started_at,
                    due_at=following[1] if following else started_at,
                    waiting=following is not None,
                    escalate_to=[{"id": t.ref, "name": channel_names.get(t.ref, t.ref)}
                                 for t in step1 if t.kind is TargetKind.CHANNEL],
                    policy_ids=policy_ids, steps=ladder.as_list(), repeat=ladder.repeat,
                    retrigger_seconds=ladder.retrigger_seconds, at=at, actor=actor,
                    cause=cause)

    def reason_of(self, fired: Fired) -> str:
        """A step's reason; after the ladder started over, suffixed with which start it
        is, so its messages are new deliveries and its steps new facts."""
        return fired.reason if not self.armings else f"{fired.reason}.rearm{self.armings}"

    def due_step(self, at: datetime) -> Fired:
        """The step to fire now; refused when stopped, done, or not due yet."""
        self.check_waiting()
        self.check_due(at)
        assert self.next is not None  # waiting means a step is next
        return self.next

    def escalate(self, told: list[dict[str, str]], at: datetime, actor: str,
                 cause: Cause, unresolved: list[str] = ()) -> Fired:
        """Fire the due step. `told` says who its targets resolved to ({"channel_id",
        "channel_name", and for a person "person"}, plus the "target" that led there);
        `unresolved` which targets reached nobody, and why."""
        fired = self.due_step(at)
        following = self.ladder.next_due(fired, at)
        channels = dict.fromkeys((t["channel_id"], t["channel_name"]) for t in told)
        self._escalate(step=fired.step, reason=self.reason_of(fired), incident_id=self.incident_id,
                       ref=self.ref, channel_ids=[c for c, _ in channels],
                       channel_names=[n for _, n in channels],
                       waited_seconds=(at - self.opened_at).total_seconds(), told=told,
                       round=fired.round, unresolved=list(unresolved),
                       next_step=following[0].step if following else None,
                       next_round=following[0].round if following else None,
                       next_due_at=following[1] if following else None,
                       at=at, actor=actor, cause=cause)
        return fired

    def stop(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        """Stop the climb (and any re-trigger); a no-op (False) once the ladder is done or
        was already stopped."""
        if self.status not in (EscalationStatus.WAITING, EscalationStatus.ACKNOWLEDGED):
            return False
        self._stop(why=why, at=at, actor=actor, cause=cause)
        return True

    def acknowledge(self, by: str, at: datetime, actor: str, cause: Cause) -> bool:
        """Without a re-trigger time the climb stops. With one it pauses: if the incident
        is still not resolved when that time has passed, the acknowledger is reminded and
        the steps not yet told follow (retrigger). False when there is nothing to pause."""
        if self.ladder.retrigger_seconds is None:
            return self.stop(f"acknowledged by {by}", at, actor, cause)
        if self.status is EscalationStatus.STOPPED:
            return False
        self._acknowledge(by=by, at=at, actor=actor, cause=cause,
                          retrigger_at=at + timedelta(seconds=self.ladder.retrigger_seconds))
        return True

    def hold(self, hold: dict, until: datetime, at: datetime, actor: str,
             cause: Cause) -> str:
        """A silence or maintenance window holds the incident when its step (or re-trigger)
        falls due: nobody is told now, and the climb pauses until `until`, when the rules
        are looked at again. Refused unless something is due, and when this very hold (same
        rule, same end) is already recorded. Returns the reason of the step held."""
        if self.status not in (EscalationStatus.WAITING, EscalationStatus.ACKNOWLEDGED):
            self.check_waiting()
        self.check_due(at)
        if (self.held is not None and self.held.get("id") == hold.get("id")
                and self.held_until == until):
            raise EscalationAlreadyHeld(
                f"incident {self.ref}'s escalation is already held by {hold['kind']} "
                f"{hold.get('name') or hold.get('id')} until {until.isoformat()}")
        waiting = self.status is EscalationStatus.WAITING
        held = self.next if waiting else self.last
        assert held is not None  # waiting means a step is next
        reason = self.reason_of(held) if waiting else self.retrigger_reason
        self._hold(hold=hold, until=until, incident_id=self.incident_id, ref=self.ref,
                   step=held.step, round=held.round, reason=reason, at=at, actor=actor,
                   cause=cause)
        return reason

    def retrigger_due(self, at: datetime) -> str:
        """Who acknowledged and let the time pass; refused unless a re-trigger is due."""
        if self.status is not EscalationStatus.ACKNOWLEDGED:
            raise EscalationNotWaiting(
                f"incident {self.ref} cannot re-trigger: its escalation is {self.status}")
        self.check_due(at)
        assert self.acknowledged_by is not None
        return self.acknowledged_by

    @property
    def retrigger_reason(self) -> str:
        """Why the next reminder is sent (part of its deliveries' ids): each re-trigger is
        its own."""
        return f"escalation.retrigger{self.retriggers + 1}"

    def retrigger(self, told: list[dict[str, str]], at: datetime, actor: str,
                  cause: Cause, unresolved: list[str] = ()) -> str:
        """Remind (`told`: as for escalate) and resume the climb where it paused: the step
        not yet told comes after the wait of the one told last. Returns the reminder's
        reason, which names which re-trigger it is."""
        by = self.retrigger_due(at)
        following = None
        if self.next is not None:
            following = (self.next, at + timedelta(
                seconds=self.ladder.steps[self.last.step].delay_seconds))
        reason = self.retrigger_reason
        channels = dict.fromkeys((t["channel_id"], t["channel_name"]) for t in told)
        self._retrigger(reason=reason, acknowledged_by=by, incident_id=self.incident_id,
                        ref=self.ref, step=self.last.step, round=self.last.round, channel_ids=[c for c, _ in channels],
                        channel_names=[n for _, n in channels],
                        waited_seconds=(at - self.opened_at).total_seconds(), told=told,
                        unresolved=list(unresolved), next_step=following[0].step if following else None,
                        next_round=following[0].round if following else None,
                        next_due_at=following[1] if following else None,
                        at=at, actor=actor, cause=cause)
        return reason

    # -- events ---------------------------------------------------------------------------
    @event("Escalated")
    def _escalate(self, step: int, reason: str, incident_id: str, ref: str,
                  channel_ids: list[str], waited_seconds: float, at: datetime, actor: str,
                  cause: Cause, channel_names: tuple[str, ...] = (), told: list[dict] = (),
                  round: int = 0, next_step: int | None = None,  # noqa: A002
                  next_round: int | None = None, next_due_at: datetime | None = None,
                  unresolved: list[str] = ()) -> None:
        self.step, self.escalated_at = step, at
        self.last = Fired(step, round)
        self.held = self.held_until = None
        self._continue(next_step, next_round, next_due_at)

    @event("Acknowledged")
    def _acknowledge(self, by: str, at: datetime, actor: str, cause: Cause,
                     retrigger_at: datetime) -> None:
        self.status, self.acknowledged_by, self.due_at = (EscalationStatus.ACKNOWLEDGED, by,
                                                          retrigger_at)
        self.held = self.held_until = None  # what is due now is the re-trigger

    @event("Retriggered")
    def _retrigger(self, reason: str, acknowledged_by: str, incident_id: str, ref: str,
                   step: int, round: int, channel_ids: list[str],  # noqa: A002
                   channel_names: list[str], waited_seconds: float, told: list[dict],
                   at: datetime, actor: str, cause: Cause, next_step: int | None = None,
                   next_round: int | None = None, next_due_at: datetime | None = None,
                   unresolved: list[str] = ()) -> None:
        self.retriggers += 1
        self.acknowledged_by = None
        self.held = self.held_until = None
        self._continue(next_step, next_round, next_due_at)

    def _continue(self, next_step: int | None, next_round: int | None,
                  next_due_at: datetime | None) -> None:
        if next_due_at is None:
            self.status, self.next = EscalationStatus.ESCALATED, None
        else:
            self.status = EscalationStatus.WAITING
            self.next, self.due_at = Fired(next_step, next_round), next_due_at

    @event("Held")
    def _hold(self, hold: dict, until: datetime, incident_id: str, ref: str, step: int,
              round: int, reason: str, at: datetime, actor: str,  # noqa: A002
              cause: Cause) -> None:
        # due_at stays the step's own: the step fires at the first look after the hold ends.
        self.held, self.held_until = hold, until

    @event("Rearmed")
    def _rearm(self, severity: str, opened_at: datetime, due_at: datetime, waiting: bool,
               escalate_to: list[dict[str, str]], policy_ids: list[str], steps: list[dict],
               repeat: int, retrigger_seconds: float | None, at: datetime, actor: str,
               cause: Cause) -> None:
        self.severity, self.opened_at, self.due_at = severity, opened_at, due_at
        self.escalate_to, self.policy_ids = escalate_to, policy_ids
        self.ladder = Ladder.parse(steps, repeat, retrigger_seconds=retrigger_seconds)
        self.last, self.step, self.acknowledged_by = Fired(0, 0), 0, None
        self.next = self.ladder.after(self.last) if waiting else None
        self.status = EscalationStatus.WAITING if waiting else EscalationStatus.ESCALATED
        self.armings += 1
        self.held = self.held_until = None

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


class EscalationAlreadyHeld(DomainError):
    """The due step is held by the same rule until the same time already."""
