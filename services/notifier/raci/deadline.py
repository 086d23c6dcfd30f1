"""One deadline of one incident (respond, resolve, a CAPA action's due date, its verification,
a stage's time box) and its chase: the Responsible is warned at a share of the time, the
Accountable is told at the deadline, then the holders one level up. Each phase fires once;
meeting the deadline (an acknowledgement, a completion …) stops the chase."""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from shared.errors import DomainError


class Phase(StrEnum):
    WARNING = "warning"  # to the Responsible, at warn_at of the time
    DEADLINE = "deadline"  # to the Accountable
    UP = "up"  # to the holders one level above the Accountable


class DeadlineStatus(StrEnum):
    WAITING = "waiting"  # a phase is due later
    MET = "met"  # met before its chase ended
    DONE = "done"  # every phase fired


def deadline_id(incident_id: str, key: str) -> UUID:
    """`key`: respond, resolve, action:<id>, verification:<id>, stage:<name>."""
    return key_id(f"deadline:{incident_id}:{key}")


class MetEarly(Aggregate):
    """A deadline met before it was set (messages from two streams, or a redelivery, came in
    another order): it keeps the late start from chasing anyone."""

    @staticmethod
    def create_id(incident_id: str, key: str) -> UUID:
        return deadline_id(incident_id, key)

    @event("Recorded")
    def __init__(self, incident_id: str, key: str, why: str, at: datetime, actor: str,
                 cause: Cause) -> None:
        self.incident_id, self.key, self.why = incident_id, key, why


class Deadline(Aggregate):
    rounds = 0  # times restarted (a reopening); no annotation, or eventsourcing takes it for a field
    held_since = None  # set while the incident awaits its requester (SLA paused)

    @staticmethod
    def create_id(incident_id: str, key: str) -> UUID:
        return deadline_id(incident_id, key)

    @event("Set")
    def __init__(self, incident_id: str, key: str, kind: str, subject: str | None,
                 incident: dict[str, str], started_at: datetime, due_at: datetime,
                 warn_at: datetime | None, up_at: datetime, responsible: list[str],
                 accountable: list[str], accountable_at: list[dict[str, str]],
                 up_roles: list[str], at: datetime, actor: str, cause: Cause) -> None:
        self.incident_id, self.key, self.kind, self.subject = incident_id, key, kind, subject
        self.incident = incident
        self.started_at, self.due_at, self.warn_at, self.up_at = started_at, due_at, warn_at, up_at
        self.responsible, self.accountable = responsible, accountable
        self.accountable_at, self.up_roles = accountable_at, up_roles
        self.status = DeadlineStatus.WAITING
        self.next: Phase | None = Phase.WARNING if warn_at is not None else Phase.DEADLINE
        self.fired: list[str] = []
        self.correlation_id = cause.get("correlation_id")

    @classmethod
    def set(cls, *, incident: dict[str, str], key: str, kind: str, subject: str | None,
            started_at: datetime, due_at: datetime, warn_share: float,
            up_after_seconds: float, responsible: list[str], accountable: list[str],
            accountable_at: list[dict[str, str]], up_roles: list[str], at: datetime,
            actor: str, cause: Cause) -> "Deadline":
        """No warning when there is no time left to warn in (the deadline has passed, or
        its warning point has)."""
        warn_at = started_at + (due_at - started_at) * warn_share
        return cls(incident_id=incident["incident_id"], key=key, kind=kind, subject=subject,
                   incident=incident, started_at=started_at, due_at=due_at,
                   warn_at=warn_at if at < warn_at < due_at else None,
                   up_at=due_at + timedelta(seconds=up_after_seconds),
                   responsible=responsible, accountable=accountable,
                   accountable_at=accountable_at, up_roles=up_roles, at=at, actor=actor,
                   cause=cause)

    @property
    def occasion(self) -> str:
        """What its chase's messages are about: the key, and the round once restarted, so a
        chase after a reopening is told anew rather than taken for a repeat."""
        return self.key if not self.rounds else f"{self.key}.round{self.rounds + 1}"

    @property
    def next_at(self) -> datetime | None:
        return self._time_of(self.next)

    def _time_of(self, phase: Phase | None) -> datetime | None:
        return {Phase.WARNING: self.warn_at, Phase.DEADLINE: self.due_at,
                Phase.UP: self.up_at, None: None}[phase]

    def reason(self, phase: Phase) -> str:
        """Why its messages are sent: late.<kind>.<phase> (late.verification.deadline)."""
        return f"late.{self.kind}.{phase}"

    # -- commands -------------------------------------------------------------------------
    def due_phase(self, at: datetime) -> Phase:
        """The phase to fire now; refused when met, done, or not due yet."""
        self.check_waiting()
        self.check_due(at)
        assert self.next is not None  # waiting means a phase is next
        return self.next

    def chase(self, told: list[dict[str, str]], unresolved: list[str], at: datetime,
              actor: str, cause: Cause) -> Phase:
        """Fire the due phase; `told` says whom it reached (person, channel, target)."""
        phase = self.due_phase(at)
        following = {Phase.WARNING: Phase.DEADLINE, Phase.DEADLINE: Phase.UP}.get(phase)
        self._chased(phase=str(phase), reason=self.reason(phase), told=told,
                     unresolved=unresolved, next_phase=str(following) if following else None,
                     next_at=self._time_of(following), at=at, actor=actor, cause=cause)
        return phase

    def meet(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        """Stop the chase; a no-op (False) once met or done."""
        if self.status is not DeadlineStatus.WAITING:
            return False
        self._met(why=why, late=at > self.due_at, at=at, actor=actor, cause=cause)
        return True

    def move(self, due_at: datetime, warn_share: float, up_after_seconds: float,
             at: datetime, actor: str, cause: Cause) -> bool:
        """The incident's severity changed: the same chase towards a new due time. Phases
        that fired stay fired; the warning is skipped when no time is left to warn in.
        False (nothing recorded) once met or done, or when the time is unchanged."""
        if self.status is not DeadlineStatus.WAITING or due_at == self.due_at:
            return False
        warn_at = self.started_at + (due_at - self.started_at) * warn_share
        if not (at < warn_at < due_at) or str(Phase.WARNING) in self.fired:
            warn_at = None
        up_at = due_at + timedelta(seconds=up_after_seconds)
        times = {Phase.WARNING: warn_at, Phase.DEADLINE: due_at, Phase.UP: up_at}
        following = next((p for p in Phase if str(p) not in self.fired
                          and times[p] is not None), None)
        if following is None:
            return False
        self._moved(due_at=due_at, warn_at=warn_at, up_at=up_at, next_phase=str(following),
                    next_at=times[following], at=at, actor=actor, cause=cause)
        return True

    def restart(self, *, started_at: datetime, due_at: datetime, warn_share: float,
                up_after_seconds: float, responsible: list[str], accountable: list[str],
                accountable_at: list[dict[str, str]], up_roles: list[str], at: datetime,
                actor: str, cause: Cause, subject: str | None = None) -> bool:
        """The incident was reopened (or, for the progress cadence, took an update): a new
        chase towards `due_at`, warned at the same share of its time, whatever became of
        the last one (met, done, or still waiting). False (nothing recorded) when this very
        chase is set already (a redelivery). `subject`: a new one ("": none), else kept."""
        if (self.status is DeadlineStatus.WAITING and self.started_at == started_at
                and self.due_at == due_at):
            return False
        warn_at = started_at + (due_at - started_at) * warn_share
        warn_at = warn_at if at < warn_at < due_at else None
        self._restarted(started_at=started_at, due_at=due_at, warn_at=warn_at,
                        up_at=due_at + timedelta(seconds=up_after_seconds),
                        responsible=responsible, accountable=accountable,
                        accountable_at=accountable_at, up_roles=up_roles,
                        next_phase=str(Phase.WARNING if warn_at else Phase.DEADLINE),
                        next_at=warn_at or due_at, at=at, actor=actor, cause=cause,
                        **({"subject": subject} if subject is not None else {}))
        return True

    def hold(self, at: datetime, actor: str, cause: Cause) -> bool:
        """The incident awaits its requester: nothing fires until it resumes. False (nothing
        recorded) once met or done, or already held."""
        if self.status is not DeadlineStatus.WAITING or self.held_since is not None:
            return False
        self._held(at=at, actor=actor, cause=cause)
        return True

    def release(self, due_at: datetime | None, at: datetime, actor: str,
                cause: Cause) -> bool:
        """The incident resumed: every time still ahead moves on by the time held, or by
        as much as `due_at` (the incidents service's new due time) moves the deadline.
        False when not held (the pause never came: a move by due time is the caller's)."""
        if self.held_since is None:
            return False
        shift = (due_at - self.due_at) if due_at is not None else at - self.held_since
        warn_at = self.warn_at + shift if self.warn_at is not None else None
        due, up_at = self.due_at + shift, self.up_at + shift
        waiting = self.status is DeadlineStatus.WAITING
        self._released(due_at=due, warn_at=warn_at, up_at=up_at,
                       next_at=self._time_of(self.next) + shift if waiting and self.next
                       else None, at=at, actor=actor, cause=cause)
        return True

    # -- events ---------------------------------------------------------------------------
    @event("Held")
    def _held(self, at: datetime, actor: str, cause: Cause) -> None:
        self.held_since = at

    @event("Released")
    def _released(self, due_at: datetime, warn_at: datetime | None, up_at: datetime,
                  next_at: datetime | None, at: datetime, actor: str, cause: Cause) -> None:
        self.due_at, self.warn_at, self.up_at = due_at, warn_at, up_at
        self.held_since = None

    @event("Restarted")
    def _restarted(self, started_at: datetime, due_at: datetime, warn_at: datetime | None,
                   up_at: datetime, responsible: list[str], accountable: list[str],
                   accountable_at: list[dict[str, str]], up_roles: list[str],
                   next_phase: str, next_at: datetime, at: datetime, actor: str,
                   cause: Cause, subject: str | None = None) -> None:
        self.started_at, self.due_at, self.warn_at, self.up_at = started_at, due_at, warn_at, up_at
        if subject is not None:
            self.subject = subject or None
        self.responsible, self.accountable = responsible, accountable
        self.accountable_at, self.up_roles = accountable_at, up_roles
        self.status, self.next, self.fired = DeadlineStatus.WAITING, Phase(next_phase), []
        self.rounds += 1
        self.held_since = None  # a reopening starts a new chase, not held by an old wait

    @event("Moved")
    def _moved(self, due_at: datetime, warn_at: datetime | None, up_at: datetime,
               next_phase: str, next_at: datetime, at: datetime, actor: str,
               cause: Cause) -> None:
        self.due_at, self.warn_at, self.up_at = due_at, warn_at, up_at
        self.next = Phase(next_phase)

    @event("Chased")
    def _chased(self, phase: str, reason: str, told: list[dict], unresolved: list[str],
                next_phase: str | None, next_at: datetime | None, at: datetime, actor: str,
                cause: Cause) -> None:
        self.fired.append(phase)
        self.next = Phase(next_phase) if next_phase else None
        if self.next is None:
            self.status = DeadlineStatus.DONE

    @event("Met")
    def _met(self, why: str, late: bool, at: datetime, actor: str, cause: Cause) -> None:
        self.status, self.met_why, self.met_at = DeadlineStatus.MET, why, at

    # -- guards ---------------------------------------------------------------------------
    def check_waiting(self) -> None:
        if self.status is not DeadlineStatus.WAITING:
            raise DeadlineNotWaiting(f"incident {self.incident['ref']}: deadline {self.key} "
                                     f"is already {self.status}")

    def check_due(self, at: datetime) -> None:
        if self.held_since is not None:
            raise DeadlineHeld(f"incident {self.incident['ref']}: deadline {self.key} is held "
                               f"since {self.held_since.isoformat()} (awaiting its requester)")
        if self.next_at is not None and at < self.next_at:
            raise DeadlineNotDue(f"incident {self.incident['ref']}: deadline {self.key} has "
                                 f"nothing due before {self.next_at.isoformat()}")


class DeadlineNotWaiting(DomainError):
    """The deadline was met, or its chase has ended."""


class DeadlineNotDue(DomainError):
    """The next phase of the chase is not due yet."""


class DeadlineHeld(DomainError):
    """The incident awaits its requester: its chases wait until it resumes."""
