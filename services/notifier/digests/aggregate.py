"""The digest aggregates. A Digest is one recipient's digest for one period; its id derives
from the recipient, the cadence and the period's start, so two replicas (or a process
restarted mid-way) reach the same aggregate and can send it only once: the second `send` is
refused, and a race between two saves of the same version ends in IntegrityError for one.
A DigestedIncident remembers which digests an incident went into, so its resolution or
closing reaches the same recipients however the organisation changed since."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from shared.errors import DomainError


class ItemStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Digest(Aggregate):
    @staticmethod
    def create_id(every: str, recipient_key: str, period_start: datetime) -> UUID:
        return key_id(f"digest:{every}:{recipient_key}:{period_start.isoformat()}")

    @classmethod
    def start(cls, *, recipient: dict[str, Any], every: str, period_start: datetime,
              period_end: datetime, at: datetime, actor: str, cause: Cause) -> "Digest":
        return cls._create(cls.Started, id=cls.create_id(every, recipient["key"], period_start),
                           recipient=recipient, every=every, period_start=period_start,
                           period_end=period_end, at=at, actor=actor, cause=cause)

    @event("Started")
    def __init__(self, recipient: dict[str, Any], every: str, period_start: datetime,
                 period_end: datetime, at: datetime, actor: str, cause: Cause) -> None:
        """`recipient`: key, channel_id, channel_name, target, person (or None), time_zone,
        and the cadence it reads (digest_at, digest_weekday) to find the next period."""
        self.recipient, self.every = recipient, every
        self.period_start, self.period_end = period_start, period_end
        self.items: dict[str, dict[str, Any]] = {}
        self.sent_at: datetime | None = None
        self.delivery_id: str | None = None

    @property
    def sent(self) -> bool:
        return self.sent_at is not None

    # -- commands -------------------------------------------------------------------------
    def fired(self, item: dict[str, Any], at: datetime, actor: str, cause: Cause) -> bool:
        """An incident that opened in this period; False when it is here already (a
        redelivered message)."""
        self.check_collecting()
        if item["incident_id"] in self.items:
            return False
        self._noted(item={**item, "fired": True, "status": str(ItemStatus.OPEN)}, at=at,
                    actor=actor, cause=cause)
        return True

    def carried(self, item: dict[str, Any], at: datetime, actor: str, cause: Cause) -> bool:
        """An incident still open when the previous digest was sent: it is open here too,
        unless this digest heard of it already (it ended meanwhile)."""
        self.check_collecting()
        if item["incident_id"] in self.items:
            return False
        self._noted(item={**item, "fired": False, "status": str(ItemStatus.OPEN)}, at=at,
                    actor=actor, cause=cause)
        return True

    def ended(self, item: dict[str, Any], status: str, at: datetime, actor: str,
              cause: Cause) -> bool:
        """The incident was resolved or closed in this period."""
        self.check_collecting()
        known = self.items.get(item["incident_id"])
        if known is not None and known["status"] != ItemStatus.OPEN:
            return False
        fired = known["fired"] if known is not None else False
        self._noted(item={**item, "fired": fired, "status": str(status),
                          "ended_at": at.isoformat()}, at=at, actor=actor, cause=cause)
        return True

    def send(self, delivery_id: UUID | None, counts: dict[str, int], at: datetime, actor: str,
             cause: Cause) -> None:
        """Once, when its period has ended. `delivery_id`: the message that carries it
        (None when its channel is gone: the digest is recorded as sent to nobody)."""
        self.check_collecting()
        if at < self.period_end:
            raise DigestNotDue(f"digest {self.id} is not due before {self.period_end.isoformat()}")
        self._sent(delivery_id=str(delivery_id) if delivery_id else None, counts=counts,
                   at=at, actor=actor, cause=cause)

    def still_open(self) -> list[dict[str, Any]]:
        return [i for i in self.items.values() if i["status"] == ItemStatus.OPEN]

    # -- events ---------------------------------------------------------------------------
    @event("Noted")
    def _noted(self, item: dict[str, Any], at: datetime, actor: str, cause: Cause) -> None:
        self.items[item["incident_id"]] = item

    @event("Sent")
    def _sent(self, delivery_id: str | None, counts: dict[str, int], at: datetime, actor: str,
              cause: Cause) -> None:
        self.sent_at, self.delivery_id = at, delivery_id

    # -- guards ---------------------------------------------------------------------------
    def check_collecting(self) -> None:
        if self.sent:
            raise DigestSent(f"digest {self.id} was sent at {self.sent_at.isoformat()}")


class DigestedIncident(Aggregate):
    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(f"digested:{incident_id}")

    @classmethod
    def record(cls, *, item: dict[str, Any], recipients: list[dict[str, Any]], at: datetime,
               actor: str, cause: Cause) -> "DigestedIncident":
        return cls._create(cls.Recorded, id=cls.create_id(item["incident_id"]), item=item,
                           recipients=recipients, at=at, actor=actor, cause=cause)

    @event("Recorded")
    def __init__(self, item: dict[str, Any], recipients: list[dict[str, Any]], at: datetime,
                 actor: str, cause: Cause) -> None:
        """`item`: what a digest shows of the incident (ref, severity, title, entity, unit,
        opened_at); `recipients`: each with its cadence (every, digest_at, digest_weekday)."""
        self.item, self.recipients = item, recipients
        self.status = ItemStatus.OPEN

    def end(self, status: ItemStatus, at: datetime, actor: str, cause: Cause) -> bool:
        """Resolved or closed; False when it had ended already (closed after resolved)."""
        if self.status is not ItemStatus.OPEN:
            return False
        self._ended(status=str(status), at=at, actor=actor, cause=cause)
        return True

    @event("Ended")
    def _ended(self, status: str, at: datetime, actor: str, cause: Cause) -> None:
        self.status = ItemStatus(status)


class DigestSent(DomainError):
    pass


class DigestNotDue(DomainError):
    pass
