"""The delivery worker's commands: claim due attempts and record their outcomes, many
deliveries to one transaction. Each delivery's own guard still decides: an attempt already
claimed (by this or another replica) or an outcome for another attempt is refused and left
out, and two saves of the same version end in IntegrityError for one of them."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifier.channels.base import Notification, Outcome, Target
from services.notifier.config_cache import ConfigCache, Routing
from services.notifier.contact_limits import ContactLimits, Decision
from services.notifier.domain import Delivery, DeliveryNotFound, DeliveryStatus, ErrorClass
from services.notifier.page_links import PageLinks
from services.notifier.sealing import Sealer, SealingError
from services.notifier.store_reads import StoreReads
from shared.causation import from_timer
from shared.errors import DomainError
from shared.store import IntegrityError

log = logging.getLogger(__name__)

DELIVER_WORKER = "notifier.deliver_due"


@dataclass(frozen=True)
class Due:
    """A due row of the deliveries read model, as it was read."""

    delivery_id: UUID
    status: str
    attempts: int


@dataclass(frozen=True)
class Claimed:
    """An attempt claimed in the store: what to send, where."""

    delivery_id: UUID
    channel_id: str
    target: Target
    notification: Notification
    trace: dict[str, str]
    lease_until: datetime  # past it, the attempt is taken for interrupted and tried again
    # The delivery as claimed, so its outcome is recorded without reading it again (if
    # another writer changed it meanwhile, the save conflicts and it is read).
    delivery: Delivery = field(repr=False, compare=False)


@dataclass(frozen=True)
class Reported:
    """What a send came back with, to be recorded."""

    delivery_id: UUID
    attempt: int
    outcome: Outcome
    at: datetime
    claimed: Delivery | None = field(default=None, repr=False, compare=False)


class Attempts:
    """Mixed into NotifierApplication (save, retry_on_conflict, get_or_none)."""

    sealer: Sealer
    reads: StoreReads
    config_cache: ConfigCache
    contact_limits: ContactLimits
    page_links: PageLinks | None

    def claim_attempts(self, due: list[Due], at: datetime) -> list[Claimed]:
        """Start the next attempt of every due delivery (or, for one whose sender never
        reported back, record the attempt as interrupted) and save them all together.
        Returns what to send; refused deliveries are left out."""
        def attempt() -> list[Claimed]:
            routing, _ = self.config_cache.current()
            found = self.reads.get_many(d.delivery_id for d in due)
            changed, claimed = [], []
            for d in due:
                delivery = found.get(d.delivery_id)
                if not isinstance(delivery, Delivery):
                    continue
                try:
                    if d.status == DeliveryStatus.SENDING:
                        delivery.record_interrupted(at, DELIVER_WORKER, worker_cause(delivery))
                        job = None
                    else:
                        job = self._claim(delivery, d.attempts + 1, routing, at)
                        if job is None:
                            log.info("delivery %s not sent: see its history for why", delivery.id)
                except DomainError as refused:  # another replica or an earlier pass did it
                    log.debug("delivery %s not claimed: %s", d.delivery_id, refused)
                    continue
                changed.append(delivery)
                if job is not None:
                    claimed.append(job)
            self.save(*changed)
            return claimed

        return self.retry_on_conflict(attempt)

    def start_attempt(self, delivery_id: UUID, attempt: int, at: datetime) -> Claimed | None:
        """Claim attempt n of one delivery; None when there is nothing to send (channel
        disabled: skipped; secret unreadable: failed). Raises when the guard refuses."""
        delivery = self._delivery(delivery_id)
        job = self._claim(delivery, attempt, self.config_cache.current()[0], at)
        self.save(delivery)
        return job

    def _claim(self, delivery: Delivery, attempt: int, routing: Routing,
               at: datetime) -> Claimed | None:
        cause = worker_cause(delivery)
        channel = routing.channel(delivery.channel_id)
        if not channel.enabled:
            delivery.skip(f"channel {channel.name} is disabled: {channel.disabled_why}",
                          at, DELIVER_WORKER, cause)
            return None
        delivery.check_can_start(attempt, at)  # before the rate limit counts it as sent
        decision = self._rate_limited(delivery, at)
        if not decision.send:
            return None
        delivery.start_attempt(attempt, at, DELIVER_WORKER, cause, list(decision.carries))
        try:
            target = routing.target(channel, at, self.sealer)
        except SealingError as error:  # the key that sealed it is gone: no retry can help
            delivery.record_failure(attempt, str(error), False, at, DELIVER_WORKER, cause)
            return None
        notification = notification_of(
            delivery, attempt, folded=decision.carries,
            ack_url=self.page_links.url_for(delivery, at) if self.page_links else None)
        return Claimed(delivery.id, delivery.channel_id, target, notification, delivery.trace,
                       delivery.lease_until, delivery)

    def _rate_limited(self, delivery: Delivery, at: datetime) -> Decision:
        """Hold the message back when its person's limit for the medium is reached, or give
        it up as told when another message already carried it; else send it, with what was
        held back meanwhile."""
        recipient = delivery.recipient or {}
        medium, address = recipient.get("medium"), recipient.get("address")
        limit = self.contact_limits.limit_for(medium or "")
        if limit is None or not address:
            return Decision()
        cause = worker_cause(delivery)
        summary = {"ref": delivery.ref, "title": delivery.title, "reason": delivery.reason}
        decision = self.contact_limits.decide(medium, address, str(delivery.id), summary, at)
        if decision.into is not None:
            delivery.fold(decision.into, f"told inside delivery {decision.into}, sent when "
                          f"{recipient.get('handle')}'s {medium} limit ({limit}) had room",
                          at, DELIVER_WORKER, cause)
            self.contact_limits.forget_folded(medium, address, str(delivery.id))
        elif decision.until is not None:
            delivery.throttle(decision.until, f"{recipient.get('handle')}'s {medium} limit "
                              f"({limit}) is reached: held back until "
                              f"{decision.until.isoformat()}, then sent together with what "
                              "else was held back", at, DELIVER_WORKER, cause)
        return decision

    def record_outcomes(self, reports: list[Reported]) -> dict[UUID, str]:
        """Record what the sends came back with, in one transaction; returns each recorded
        delivery's new status. When another writer changed one of them meanwhile, each is
        recorded on its own, so that one conflict costs no other outcome."""
        found = self.reads.get_many(r.delivery_id for r in reports if r.claimed is None)
        changed, statuses = [], {}
        for report in reports:
            delivery = report.claimed or found.get(report.delivery_id)
            if not isinstance(delivery, Delivery):
                continue
            try:
                record(delivery, report)
            except DomainError as refused:
                log.warning("delivery %s attempt %d: outcome not recorded: %s",
                            report.delivery_id, report.attempt, refused)
                continue
            changed.append(delivery)
            statuses[delivery.id] = str(delivery.status)
        try:
            self.save(*changed)
        except IntegrityError:
            if len(reports) == 1 and reports[0].claimed is None:
                raise
            statuses = {}
            for report in reports:
                try:
                    statuses.update(self.record_outcomes([replace(report, claimed=None)]))
                except IntegrityError as conflict:
                    log.warning("delivery %s attempt %d: outcome not recorded: %s",
                                report.delivery_id, report.attempt, conflict)
        return statuses

    def _delivery(self, delivery_id: UUID) -> Delivery:
        found = self.get_or_none(delivery_id)  # type: ignore[attr-defined]
        if not isinstance(found, Delivery):
            raise DeliveryNotFound(f"delivery {delivery_id} does not exist")
        return found


def notification_of(delivery: Delivery, attempt: int, *, folded: tuple[dict, ...] = (),
                    ack_url: str | None = None) -> Notification:
    """What a channel is given to send one attempt of the delivery (with the held-back
    messages it also tells); the message shown on GET /v1/deliveries/{id}/message is
    rendered from the same."""
    return Notification(
        delivery_id=str(delivery.id), attempt=attempt, reason=delivery.reason,
        incident={"incident_id": delivery.incident_id, "ref": delivery.ref,
                  "severity": delivery.severity, "title": delivery.title,
                  "entity": delivery.entity},
        occurred_at=delivery.occurred_at, recipient=delivery.recipient,
        about=getattr(delivery, "about", None), facts=getattr(delivery, "facts", None),
        folded=tuple(folded), ack_url=ack_url)


def record(delivery: Delivery, report: Reported) -> None:
    outcome, cause = report.outcome, worker_cause(delivery)
    if outcome.delivered:
        delivery.record_success(report.attempt, outcome.status_code, report.at, DELIVER_WORKER,
                                cause, fallback_reason=outcome.fallback_reason)
    else:
        delivery.record_failure(report.attempt, outcome.error or "unknown error",
                                outcome.retryable, report.at, DELIVER_WORKER, cause,
                                status_code=outcome.status_code,
                                error_class=outcome.error_class or ErrorClass.UNKNOWN,
                                fallback_reason=outcome.fallback_reason)


def worker_cause(delivery: Delivery) -> dict[str, Any]:
    # Keep the incident's correlation id so its whole story can be followed.
    return {**from_timer(DELIVER_WORKER), "correlation_id": delivery.correlation_id}
