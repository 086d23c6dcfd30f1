"""The notifier application: channels and policies, the handlers that schedule deliveries and
start escalation timers, and the commands workers use to claim, record and escalate."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

from services.notifier.channels.egress import EgressPolicy
from services.notifier.configuration import Configuration
from services.notifier.domain import (
    Channel, Delivery, DeliveryNotFound, Directory, EarlyStop, ErrorClass, Escalation,
    EscalationNotFound, EscalationPolicy, Reason,
)
from services.notifier.sealing import Sealer, SealingError
from services.notifier.views import attempt_history, delivery_view
from shared.causation import from_message, from_timer
from shared.clock import Clock
from shared.contracts import (
    CloudEvent, IncidentAcknowledged, IncidentClosed, IncidentOpened, IncidentResolved,
)
from shared.store import ServiceApplication, Tracking

log = logging.getLogger(__name__)

DELIVER_WORKER = "notifier.deliver_due"
ESCALATE_WORKER = "notifier.escalate_due"


class NotifierApplication(Configuration, ServiceApplication):
    snapshotting_intervals = {Directory: 50}  # every channel and policy is listed in it

    def __init__(self, env: dict[str, str] | None, clock: Clock, *, sealer: Sealer,
                 egress: EgressPolicy, max_attempts: int = 5) -> None:
        self.clock = clock
        self.sealer, self.egress = sealer, egress
        self.max_attempts = max_attempts
        super().__init__(env)

    # -- message handlers -----------------------------------------------------------------
    def handle_incident_opened(self, envelope: CloudEvent, contract: IncidentOpened,
                               tracking: Tracking) -> None:
        cause, at = from_message(envelope), self.clock.now()
        policies = [p for p in self._policies() if p.matches(contract.severity)]
        if not policies:
            log.info("incident %s (%s): no policy covers this severity; nobody is notified",
                     contract.ref, contract.severity)
        incident = incident_of(contract)
        notify = [self._channel(cid) for p in policies for cid in p.notify]
        deliveries = self._schedule(incident, notify, Reason.INCIDENT_OPENED,
                                    contract.opened_at, at, "notifier", cause)
        escalation = self._start_escalation(contract, policies, at, cause)
        self.save_tracked(*deliveries, escalation, tracking=tracking)

    def handle_incident_acknowledged(self, envelope: CloudEvent, contract: IncidentAcknowledged,
                                     tracking: Tracking) -> None:
        self._stop_escalation(contract.incident_id, f"acknowledged by {contract.by}",
                              contract.by, envelope, tracking)

    def handle_incident_resolved(self, envelope: CloudEvent, contract: IncidentResolved,
                                 tracking: Tracking) -> None:
        self._stop_escalation(contract.incident_id, f"resolved by {contract.by}",
                              contract.by, envelope, tracking)

    def handle_incident_closed(self, envelope: CloudEvent, contract: IncidentClosed,
                               tracking: Tracking) -> None:
        self._stop_escalation(contract.incident_id, "closed", "incidents", envelope, tracking)

    def _stop_escalation(self, incident_id: str, why: str, actor: str, envelope: CloudEvent,
                         tracking: Tracking) -> None:
        at, cause = self.clock.now(), from_message(envelope)
        existing = self.get_or_none(Escalation.create_id(incident_id))
        if isinstance(existing, Escalation):
            existing.stop(why, at, actor, cause)
            self.save_tracked(existing, tracking=tracking)
        elif existing is None:  # the opening has not arrived yet
            self.save_tracked(EarlyStop(incident_id=incident_id, why=why, at=at, actor=actor,
                                        cause=cause), tracking=tracking)
        else:
            self.save_tracked(tracking=tracking)

    def _schedule(self, incident: dict[str, str], channels: list[Channel], reason: Reason,
                  occurred_at: datetime, at: datetime, actor: str, cause: dict) -> list[Delivery]:
        scheduled: dict[UUID, Delivery] = {}
        for channel in channels:
            delivery_id = Delivery.create_id(incident["incident_id"], str(reason), str(channel.id))
            if delivery_id in scheduled:
                continue  # two matching policies name the same channel: one message
            if self.get_or_none(delivery_id) is not None:
                log.info("incident %s: %s to %s was scheduled before (redelivered message)",
                         incident["ref"], reason, channel.name)
                continue
            scheduled[delivery_id] = Delivery(
                **incident, occurred_at=occurred_at, channel_id=str(channel.id),
                channel_name=channel.name, reason=str(reason), max_attempts=self.max_attempts,
                at=at, actor=actor, cause=cause)
        return list(scheduled.values())

    def _start_escalation(self, contract: IncidentOpened, policies: list[EscalationPolicy],
                          at: datetime, cause: dict) -> Escalation | None:
        # One timer per incident: when several policies match, the earliest delay wins and
        # their escalation channels are merged (in policy order, without repeats).
        escalating = [p for p in policies if p.escalate_to]
        if not escalating:
            return None
        existing = self.get_or_none(Escalation.create_id(contract.incident_id))
        if isinstance(existing, EarlyStop):
            log.info("incident %s was acknowledged before it reached the notifier: no escalation",
                     contract.ref)
            return None
        if existing is not None:
            return None  # redelivered message: the timer already runs
        channel_ids = list(dict.fromkeys(cid for p in escalating for cid in p.escalate_to))
        delay = min(p.escalate_after_seconds for p in escalating)
        return Escalation(
            **incident_of(contract), opened_at=contract.opened_at,
            due_at=contract.opened_at + timedelta(seconds=delay),
            escalate_to=[{"id": cid, "name": self._channel(cid).name} for cid in channel_ids],
            policy_ids=[str(p.id) for p in escalating], at=at, actor="notifier", cause=cause)

    # -- worker commands ------------------------------------------------------------------
    def start_attempt(self, delivery_id: UUID, attempt: int, at: datetime) -> dict | None:
        """Claim attempt n and return what to send (the channel's secrets opened); None when
        there is nothing to send (channel disabled: skipped; secret unreadable: failed)."""
        delivery = self._delivery(delivery_id)
        cause = self._worker_cause(delivery)
        channel = self._channel(delivery.channel_id)
        if not channel.enabled:
            delivery.skip(f"channel {channel.name} is disabled: {channel.disabled_why}",
                          at, DELIVER_WORKER, cause)
            self.save(delivery)
            return None
        previous = channel.previous_secret_at(at)
        delivery.start_attempt(attempt, at, DELIVER_WORKER, cause)
        try:
            target = {"kind": str(channel.kind), "url": channel.url,
                      "secret": self.sealer.open(channel.secret),
                      "headers": self.sealer.open_headers(channel.headers),
                      "previous_secret": self.sealer.open(previous) if previous else None}
        except SealingError as error:  # the key that sealed it is gone: no retry can help
            delivery.record_failure(attempt, str(error), False, at, DELIVER_WORKER, cause)
            self.save(delivery)
            return None
        self.save(delivery)
        return {
            "target": target,
            "notification": {
                "delivery_id": str(delivery.id), "attempt": attempt, "reason": delivery.reason,
                "incident": {"incident_id": delivery.incident_id, "ref": delivery.ref,
                             "severity": delivery.severity, "title": delivery.title,
                             "entity": delivery.entity},
                "occurred_at": delivery.occurred_at},
            "trace": delivery.trace,
        }

    def record_outcome(self, delivery_id: UUID, attempt: int, *, delivered: bool,
                       status_code: int | None, error: str | None, retryable: bool,
                       at: datetime, error_class: str | None = None) -> str:
        delivery = self._delivery(delivery_id)
        cause = self._worker_cause(delivery)
        if delivered:
            delivery.record_success(attempt, status_code, at, DELIVER_WORKER, cause)
        else:
            delivery.record_failure(attempt, error or "unknown error", retryable, at,
                                    DELIVER_WORKER, cause, status_code=status_code,
                                    error_class=error_class or ErrorClass.UNKNOWN)
        self.save(delivery)
        return str(delivery.status)

    def record_interrupted(self, delivery_id: UUID, at: datetime) -> str:
        delivery = self._delivery(delivery_id)
        delivery.record_interrupted(at, DELIVER_WORKER, self._worker_cause(delivery))
        self.save(delivery)
        return str(delivery.status)

    def escalate(self, incident_id: str, at: datetime) -> list[str]:
        """Fire the incident's escalation (once: the guard refuses a second time) and schedule
        its messages in the same save. Returns the new delivery ids."""
        escalation = self.get_or_none(Escalation.create_id(incident_id))
        if not isinstance(escalation, Escalation):
            raise EscalationNotFound(f"incident {incident_id} has no escalation")
        cause = {**from_timer(ESCALATE_WORKER), "correlation_id": escalation.correlation_id}
        escalation.escalate(at, ESCALATE_WORKER, cause)
        incident = {"incident_id": escalation.incident_id, "ref": escalation.ref,
                    "severity": escalation.severity, "title": escalation.title,
                    "entity": escalation.entity}
        channels = [self._channel(c["id"]) for c in escalation.escalate_to]
        deliveries = self._schedule(incident, channels, Reason.ESCALATION_STEP1, at, at,
                                    ESCALATE_WORKER, cause)
        self.save(escalation, *deliveries)
        return [str(d.id) for d in deliveries]

    @staticmethod
    def _worker_cause(delivery: Delivery) -> dict:
        # Keep the incident's correlation id so its whole story can be followed.
        return {**from_timer(DELIVER_WORKER), "correlation_id": delivery.correlation_id}

    # -- queries --------------------------------------------------------------------------
    def delivery(self, delivery_id: UUID) -> dict:
        """A delivery's current state with its attempt history, read from the event log."""
        events = self.stored_events(delivery_id)
        if not events or not isinstance(events[0], Delivery.Scheduled):
            raise DeliveryNotFound(f"delivery {delivery_id} does not exist")
        delivery = self._delivery(delivery_id)
        return {**delivery_view(delivery), "history": attempt_history(events)}

    # -- lookups --------------------------------------------------------------------------
    def _delivery(self, delivery_id: UUID) -> Delivery:
        found = self.get_or_none(delivery_id)
        if not isinstance(found, Delivery):
            raise DeliveryNotFound(f"delivery {delivery_id} does not exist")
        return found


def incident_of(contract: IncidentOpened) -> dict[str, str]:
    return {"incident_id": contract.incident_id, "ref": contract.ref,
            "severity": contract.severity, "title": contract.title, "entity": contract.entity}
