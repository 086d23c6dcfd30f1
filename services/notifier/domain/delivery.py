"""One message to one channel, with every attempt recorded: claimed, then delivered, retried
after a backoff, or given up. The claim is a command so two replicas never send the same
attempt (the second save of the same version fails)."""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, ErrorClass, key_id
from shared.errors import DomainError

BACKOFF_BASE = timedelta(seconds=1)
BACKOFF_CAP = timedelta(minutes=5)
# How long a claimed attempt may stay without an outcome before another worker may record it
# as interrupted (the sender crashed). Far longer than the 5 s send timeout.
ATTEMPT_LEASE = timedelta(seconds=60)
MAX_ERROR_CHARS = 500


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    SKIPPED = "skipped"  # its channel was disabled: explained, never sent
    THROTTLED = "throttled"  # the person's rate limit was reached: waits for room, not sent
    FOLDED = "folded"  # told inside another message to the same person (the overflow)


def backoff(attempt: int) -> timedelta:
    """Wait after failed attempt n: 1 s, 2 s, 4 s … capped."""
    return min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_CAP)


class Delivery(Aggregate):
    @staticmethod
    def create_id(incident_id: str, reason: str, channel_id: str,
                  recipient: dict[str, str] | None = None, occasion: str | None = None) -> UUID:
        """One message per incident, reason, channel and (when it is for a person) person;
        and per occasion when one reason can recur (each CAPA action has its deadline)."""
        key = f"{channel_id}/{recipient['handle']}" if recipient else channel_id
        why = f"{reason}/{occasion}" if occasion else reason
        return key_id(f"{incident_id}:{why}:{key}")

    @event("Scheduled")
    def __init__(self, incident_id: str, ref: str, severity: str, title: str, entity: str,
                 occurred_at: datetime, channel_id: str, channel_name: str, reason: str,
                 max_attempts: int, at: datetime, actor: str, cause: Cause,
                 recipient: dict[str, str] | None = None, target: str | None = None,
                 occasion: str | None = None, about: dict | None = None,
                 facts: dict | None = None) -> None:
        self.incident_id, self.ref, self.severity = incident_id, ref, severity
        # What the opening measured and its SLA (opening_facts.facts_of), for the message; None for
        # deliveries scheduled before the notifier kept them.
        self.facts = facts
        self.title, self.entity, self.occurred_at = title, entity, occurred_at
        self.channel_id, self.channel_name, self.reason = channel_id, channel_name, reason
        # The person it is for (handle, name, language, medium, address), and the ladder
        # target that chose them ("schedule:sre-primary"): every delivery says why.
        self.recipient, self.target = recipient, target
        # What a chase is about (the deadline, its subject and due time), for the receiver.
        self.occasion, self.about = occasion, about
        self.max_attempts = max_attempts
        self.status = DeliveryStatus.PENDING
        self.attempts = 0
        self.next_attempt_at: datetime | None = at
        self.lease_until: datetime | None = None
        self.last_status_code: int | None = None
        self.last_error: str | None = None
        self.last_error_class: str | None = None
        self.scheduled_at = self.updated_at = at
        # Later attempts are made by a worker; they carry on the incident's correlation id
        # and trace so the whole story can be followed.
        self.correlation_id = cause.get("correlation_id")
        self.trace = dict(cause.get("trace") or {})

    # -- commands -------------------------------------------------------------------------
    def start_attempt(self, attempt: int, at: datetime, actor: str, cause: Cause,
                      folded: list[dict] | None = None) -> None:
        """Claim attempt n. Refused when it was already claimed (by this or another worker).
        `folded`: the held-back messages this one also tells (ref, title, reason, id)."""
        self.check_can_start(attempt, at)
        extra = {"folded": folded} if folded else {}
        self._start_attempt(attempt=attempt, lease_until=at + ATTEMPT_LEASE,
                            at=at, actor=actor, cause=cause, **extra)

    def record_success(self, attempt: int, status_code: int | None, at: datetime, actor: str,
                       cause: Cause, fallback_reason: str | None = None) -> None:
        self.check_in_flight(attempt)
        extra = {"fallback_reason": fallback_reason} if fallback_reason else {}
        self._delivered(attempt=attempt, status_code=status_code, **self._contract_fields(),
                        at=at, actor=actor, cause=cause, **extra)

    def record_failure(self, attempt: int, error: str, retryable: bool, at: datetime,
                       actor: str, cause: Cause, status_code: int | None = None,
                       error_class: str = ErrorClass.UNKNOWN,
                       fallback_reason: str | None = None) -> None:
        self.check_in_flight(attempt)
        error = error[:MAX_ERROR_CHARS]
        final = not retryable or attempt >= self.max_attempts
        extra = {"fallback_reason": fallback_reason} if fallback_reason else {}
        self._attempt_failed(attempt=attempt, error=error, status_code=status_code,
                             retryable=retryable, error_class=str(error_class),
                             next_attempt_at=None if final else at + backoff(attempt),
                             at=at, actor=actor, cause=cause, **extra)
        if final:
            why = "not retryable" if not retryable else f"{attempt} attempts made"
            self._failed(attempts=attempt, error=f"{error} ({why})", **self._contract_fields(),
                         at=at, actor=actor, cause=cause)

    def record_interrupted(self, at: datetime, actor: str, cause: Cause) -> None:
        """The worker that claimed the attempt never reported back (crash): count it as a
        retryable failure so the delivery moves on."""
        self.check_lease_expired(at)
        self.record_failure(self.attempts, f"attempt {self.attempts} interrupted: no outcome "
                            f"recorded by {self.lease_until.isoformat()}",
                            retryable=True, at=at, actor=actor, cause=cause,
                            error_class=ErrorClass.INTERRUPTED)

    def throttle(self, until: datetime, why: str, at: datetime, actor: str,
                 cause: Cause) -> None:
        """Hold the message back: the person's rate limit for this medium is reached. It is
        due again when the limit has room, and is then sent or folded into another."""
        self.check_can_skip()
        self._throttled(until=until, why=why, at=at, actor=actor, cause=cause)

    def fold(self, into: str, why: str, at: datetime, actor: str, cause: Cause) -> None:
        """Give it up as told: another message to the same person carried it."""
        self.check_can_skip()
        self._folded(into=into, why=why, at=at, actor=actor, cause=cause)

    def skip(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        """Give the delivery up without sending, saying why (its channel was disabled)."""
        self.check_can_skip()
        self._skipped(why=why, error_class=str(ErrorClass.CHANNEL_DISABLED), at=at,
                      actor=actor, cause=cause)

    # -- events ---------------------------------------------------------------------------
    @event("AttemptStarted")
    def _start_attempt(self, attempt: int, lease_until: datetime, at: datetime, actor: str,
                       cause: Cause, folded: list[dict] | None = None) -> None:
        self.status, self.attempts, self.lease_until = DeliveryStatus.SENDING, attempt, lease_until
        self.next_attempt_at, self.updated_at = None, at

    @event("Delivered")
    def _delivered(self, attempt: int, status_code: int | None, notification_id: str,
                   incident_id: str, ref: str, channel_id: str, channel_name: str, reason: str,
                   at: datetime, actor: str, cause: Cause,
                   fallback_reason: str | None = None) -> None:
        self.status, self.last_status_code = DeliveryStatus.DELIVERED, status_code
        self.last_error, self.last_error_class = None, None
        self.lease_until, self.updated_at = None, at

    @event("AttemptFailed")
    def _attempt_failed(self, attempt: int, error: str, status_code: int | None, retryable: bool,
                        next_attempt_at: datetime | None, at: datetime, actor: str,
                        cause: Cause, error_class: str = ErrorClass.UNKNOWN,
                        fallback_reason: str | None = None) -> None:
        self.status = DeliveryStatus.RETRYING
        self.last_status_code, self.last_error = status_code, error
        self.last_error_class = error_class
        self.next_attempt_at, self.lease_until, self.updated_at = next_attempt_at, None, at

    @event("Skipped")
    def _skipped(self, why: str, error_class: str, at: datetime, actor: str,
                 cause: Cause) -> None:
        self.status = DeliveryStatus.SKIPPED
        self.last_error, self.last_error_class = why, error_class
        self.next_attempt_at, self.updated_at = None, at

    @event("Throttled")
    def _throttled(self, until: datetime, why: str, at: datetime, actor: str,
                   cause: Cause) -> None:
        self.status = DeliveryStatus.THROTTLED
        self.last_error, self.last_error_class = why, str(ErrorClass.THROTTLED)
        self.next_attempt_at, self.updated_at = until, at

    @event("Folded")
    def _folded(self, into: str, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.status = DeliveryStatus.FOLDED
        self.last_error, self.last_error_class = why, str(ErrorClass.THROTTLED)
        self.next_attempt_at, self.updated_at = None, at

    @event("Failed")
    def _failed(self, attempts: int, error: str, notification_id: str, incident_id: str,
                ref: str, channel_id: str, channel_name: str, reason: str, at: datetime,
                actor: str, cause: Cause) -> None:
        self.status, self.next_attempt_at, self.updated_at = DeliveryStatus.FAILED, None, at

    def _contract_fields(self) -> dict[str, str]:
        # The public NotificationDelivered/Failed contracts are translated from the event
        # alone, so these events carry what a subscriber needs to know.
        return {"notification_id": str(self.id), "incident_id": self.incident_id,
                "ref": self.ref, "channel_id": self.channel_id,
                "channel_name": self.channel_name, "reason": self.reason}

    # -- guards ---------------------------------------------------------------------------
    def check_can_start(self, attempt: int, at: datetime) -> None:
        what = (f"delivery {self.id} ({self.ref} to {self.channel_name}) "
                f"cannot start attempt {attempt}")
        if self.status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED,
                           DeliveryStatus.SKIPPED, DeliveryStatus.FOLDED):
            raise AttemptRefused(f"{what}: it is already {self.status}")
        if attempt <= self.attempts:
            raise AttemptRefused(f"{what}: attempt {attempt} was already started")
        if self.status is DeliveryStatus.SENDING:
            raise AttemptRefused(f"{what}: attempt {self.attempts} is still in flight")
        if attempt != self.attempts + 1:
            raise AttemptRefused(f"{what}: the next attempt is {self.attempts + 1}")
        if attempt > self.max_attempts:
            raise AttemptRefused(f"{what}: at most {self.max_attempts} attempts are made")
        if self.next_attempt_at is not None and at < self.next_attempt_at:
            raise AttemptRefused(f"{what}: it is not due before {self.next_attempt_at.isoformat()}")

    def check_can_skip(self) -> None:
        if self.status not in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING,
                               DeliveryStatus.THROTTLED):
            raise AttemptRefused(f"delivery {self.id} cannot be skipped: it is {self.status}")

    def check_in_flight(self, attempt: int) -> None:
        if self.status is not DeliveryStatus.SENDING or attempt != self.attempts:
            raise OutcomeRefused(
                f"delivery {self.id} cannot record the outcome of attempt {attempt}: "
                f"it is {self.status} with {self.attempts} attempt(s) started")

    def check_lease_expired(self, at: datetime) -> None:
        if self.status is not DeliveryStatus.SENDING:
            raise OutcomeRefused(f"delivery {self.id} has no attempt in flight")
        if self.lease_until is not None and at < self.lease_until:
            raise OutcomeRefused(f"delivery {self.id}: attempt {self.attempts} may still "
                                 f"report back until {self.lease_until.isoformat()}")


class AttemptRefused(DomainError):
    """The attempt was already claimed, the delivery is finished, or it is not due yet."""


class OutcomeRefused(DomainError):
    """An outcome arrived for an attempt that is not the one in flight."""
