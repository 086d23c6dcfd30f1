"""The notifier application: channels and policies, the handlers that schedule deliveries and
start escalation timers, and the commands workers use to claim, record and escalate. Decisions
read the configuration from its cache (config_cache.py), checked against the store first."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifier.contact_limits import ContactLimits
from services.notifier.attempts import Attempts
from services.notifier.channels.egress import EgressPolicy
from services.notifier.config_cache import ConfigCache, Routing
from services.notifier.configuration import Configuration
from services.notifier.digests.aggregate import Digest, DigestedIncident, ItemStatus
from services.notifier.digests.commands import Digesting
from services.notifier.directory import Organisation, OrganisationCommands
from services.notifier.directory.cache import OrgCache
from services.notifier.domain import (
    Delivery, DeliveryNotFound, Directory, EarlyStop, Escalation, EscalationPolicy, Reason,
)
from services.notifier.domain.ladder import merge
from services.notifier.escalating import Escalating
from services.notifier.handoff import Handoff
from services.notifier.holds.commands import Holding
from services.notifier.holds.decision import labels_of, routed
from services.notifier.holds.opening import Opening
from services.notifier.oncall.commands import Schedules
from services.notifier.opening_facts import incident_of, paging, sla_of, with_responsible
from services.notifier.page_links import PageLinks
from services.notifier.quiet.commands import Quieting
from services.notifier.quiet.index import QuietIndex
from services.notifier.raci.commands import RaciCommands
from services.notifier.raci.opening import StaffedOpening
from services.notifier.recipients import Recipient, resolve
from services.notifier.sealing import Sealer
from services.notifier.shown_messages import ShownMessages
from services.notifier.store_reads import StoreReads
from services.notifier.support.commands import SupportCommands
from services.notifier.views import attempt_history, delivery_view
from shared.causation import from_message
from shared.clock import Clock
from shared.contracts import (
    CloudEvent, IncidentAcknowledged, IncidentClosed, IncidentOpened, IncidentResolved,
)
from shared.store import IntegrityError, ServiceApplication, Tracking

log = logging.getLogger(__name__)

OPENED = str(Reason.INCIDENT_OPENED)


class NotifierApplication(Configuration, OrganisationCommands, RaciCommands, Quieting, Holding,
                          Schedules, Escalating, Digesting, SupportCommands,
                          Attempts, ShownMessages, ServiceApplication):
    # Every channel and policy is listed in the directory; every person, team and unit in
    # the organisation; every quiet rule in its index; a day's low-severity incidents in a
    # recipient's digest.
    snapshotting_intervals = {Directory: 50, Organisation: 50, QuietIndex: 50, Digest: 50}

    def __init__(self, env: dict[str, str] | None, clock: Clock, *, sealer: Sealer,
                 egress: EgressPolicy, max_attempts: int = 5,
                 contact_limits: ContactLimits | None = None,
                 page_links: PageLinks | None = None) -> None:
        self.clock = clock
        self.sealer, self.egress = sealer, egress
        # None: no per-person rate limits (tools and tests that send nothing).
        self.contact_limits = contact_limits or ContactLimits({})
        self.page_links = page_links  # None: pages carry no one-click acknowledge link
        self.max_attempts = max_attempts
        super().__init__(env)
        self.reads = StoreReads(self)
        # Per-person windows shared by every replica, kept over restarts.
        self.contact_limits.keep_in(getattr(self.recorder, "datastore", None))
        self.config_cache = ConfigCache(self, self.reads)
        self.org_cache = OrgCache(self, self.reads)
        self.handoff = Handoff()
        self._deciding_batch = threading.local()  # the consumer batch this thread is deciding, if any
        self._batch_conflicted = False

    # -- message handlers -----------------------------------------------------------------
    def handle_incident_opened(self, envelope: CloudEvent, contract: IncidentOpened,
                               tracking: Tracking) -> None:
        """Route the incident's labels to its policies and tell their step 0, unless quiet
        rules or trial mode hold its notifications (holds/): then nothing is sent and the
        hold is recorded, to be released by the release worker."""
        cause, at = from_message(envelope), self.clock.now()
        incident, labels = incident_of(contract), labels_of(contract)
        escalation_id = Escalation.create_id(contract.incident_id)
        opening_id = Opening.create_id(contract.incident_id)
        rules = self.quiet_now()
        hold = self.hold_at_opening(contract.incident_id, labels, contract.trial, rules, at)
        raci = self.raci_opening(contract, incident, at, cause)  # staffing, R/A/I, deadlines

        def created_by_it(routing: Routing) -> list[UUID]:
            staffed = raci.of(routing)
            told = ([] if hold is not None else self._told_at_opening(
                routed(rules, labels, routing.policies())[0], incident, at, routing, staffed))
            return [escalation_id, opening_id, DigestedIncident.create_id(contract.incident_id),
                    *staffed.ids, *(r.delivery_id(contract.incident_id, OPENED) for r in told)]

        routing, existing = self._deciding(created_by_it)
        policies, routes = routed(rules, labels, routing.policies())
        staffed = raci.of(routing)
        opening = None
        if opening_id in existing:  # a redelivered message: the first decision stands
            held = self.held_before(opening_id)
        else:
            held = hold is not None
            opening = self.record_opening(incident, labels, contract.trial, routes, policies,
                                          hold, at, cause, escalation_id in existing,
                                          sla_of(contract))
        if held:  # staffed (the incident shows its people), but nobody told or chased
            self.save_tracked(opening, *staffed.new(existing, deadlines=False),
                              tracking=tracking)
            return
        told = self._tell(incident, policies, routing, contract.opened_at, at, "notifier", cause,
                          existing, staffed)
        routed_to_tier = self.support_opening(contract, incident, routing, at, cause)
        self.save_tracked(*told, opening, *staffed.new(existing), *routed_to_tier,
                          tracking=tracking)

    def _told_at_opening(self, policies: list[EscalationPolicy], incident: dict[str, str],
                         at: datetime, routing: Routing, staffed: StaffedOpening
                         ) -> list[Recipient]:
        """The ladder's step 0 and the RACI people paged or informed at the opening, each
        person once. Digest policies page nobody (digests/)."""
        policies = paging(policies)
        ladder = merge([p.ladder for p in policies]) if policies else None
        step0 = resolve(ladder.targets(0) if ladder else (), incident, at, routing, self)
        return staffed.recipients(step0.recipients, routing)

    def _tell(self, incident: dict[str, str], policies: list[EscalationPolicy], routing: Routing,
              started_at: datetime, at: datetime, actor: str, cause: dict,
              existing: set[UUID], staffed: StaffedOpening | None = None) -> list[Any]:
        """Step 0's messages (with the RACI people's), and the timer for the later steps
        counting from `started_at` (the opening, or the release of a hold); what `existing`
        names is not made again. Digest policies note the incident for their recipients'
        next digest instead."""
        staffed = staffed if staffed is not None else self.raci_staffed(incident["incident_id"])
        incident = with_responsible(incident, staffed)
        digested = self.digest_opening(incident, policies, routing, at, actor, cause, existing)
        if not policies:
            log.info("incident %s (%s): no route chose a policy; nobody is notified",
                     incident["ref"], incident["severity"])
        policies = paging(policies)
        deliveries = self._schedule(
            incident, self._told_at_opening(policies, incident, at, routing, staffed), OPENED,
            started_at, at, actor, cause, existing)
        self._claim_at_once(deliveries, routing, at)
        escalation = (self._start_escalation(incident, started_at, policies, routing, at, actor,
                                             cause)
                      if Escalation.create_id(incident["incident_id"]) not in existing
                      else self._not_restarted(incident))
        return [*deliveries, escalation, *digested]

    def save_batch(self, run: Callable[[], None]) -> None:
        # After a batch that conflicted, the next one asks like single messages do: should
        # the consumer try the same messages as a batch again, they go through this time.
        self._deciding_batch.routing, self._deciding_batch.active = None, not self._batch_conflicted
        self._deciding_batch.quiet = self._deciding_batch.chart = None
        try:
            super().save_batch(run)
            self._batch_conflicted = False
        except IntegrityError:
            self._batch_conflicted = True
            raise
        finally:
            self._deciding_batch.routing, self._deciding_batch.active = None, False
            self._deciding_batch.quiet = self._deciding_batch.chart = None

    def _deciding(self, creates: Callable[[Routing], list[UUID]]) -> tuple[Routing, set[UUID]]:
        """The configuration to decide with, and which of the aggregates the decision
        `creates` exist already. Alone, one query answers both. In a consumer batch (one
        transaction) the configuration is checked once, by its first decision, and nothing
        is asked about the aggregates: for new incidents they do not exist, and a message
        whose do (a redelivery) makes the batch's save conflict; the messages are then
        handled again, asking (alone, or in a batch that asks: see save_batch)."""
        if not getattr(self._deciding_batch, "active", False):
            return self.config_cache.current(also=creates)
        if self._deciding_batch.routing is None:
            self._deciding_batch.routing = self.config_cache.current()[0]
        return self._deciding_batch.routing, set()

    def handle_incident_acknowledged(self, envelope: CloudEvent, contract: IncidentAcknowledged,
                                     tracking: Tracking) -> None:
        also = self.raci_on_acknowledged(contract, envelope)
        existing = self.get_or_none(Escalation.create_id(contract.incident_id))
        if isinstance(existing, Escalation):  # it pauses, or stops (Escalation.acknowledge)
            existing.acknowledge(contract.by, self.clock.now(), contract.by,
                                 from_message(envelope))
            self.save_tracked(existing, *also, tracking=tracking)
        else:
            self._stop_escalation(contract.incident_id, f"acknowledged by {contract.by}",
                                  contract.by, envelope, tracking, also=also)

    def handle_incident_resolved(self, envelope: CloudEvent, contract: IncidentResolved,
                                 tracking: Tracking) -> None:
        digested = self.digest_end(contract.incident_id, ItemStatus.RESOLVED, self.clock.now(),
                                   contract.by, from_message(envelope))
        self._stop_escalation(contract.incident_id, f"resolved by {contract.by}",
                              contract.by, envelope, tracking, ends_alert=True,
                              also=[*self.raci_on_resolved(contract, envelope), *digested,
                                    *self.support_on_resolved(contract, envelope)])

    def handle_incident_closed(self, envelope: CloudEvent, contract: IncidentClosed,
                               tracking: Tracking) -> None:
        digested = self.digest_end(contract.incident_id, ItemStatus.CLOSED, self.clock.now(),
                                   "incidents", from_message(envelope))
        self._stop_escalation(contract.incident_id, "closed", "incidents", envelope, tracking,
                              ends_alert=True,
                              also=[*self.raci_on_closed(contract, envelope), *digested])

    def _stop_escalation(self, incident_id: str, why: str, actor: str, envelope: CloudEvent,
                         tracking: Tracking, ends_alert: bool = False,
                         also: list[Any] = ()) -> None:
        """`also`: what else the message changed (deadlines met, the Informed told)."""
        at, cause = self.clock.now(), from_message(envelope)
        # Resolved or closed: its alert no longer fires, nor holds others (holds/).
        ended = self.end_opening(incident_id, why, at, actor, cause) if ends_alert else None
        existing = self.get_or_none(Escalation.create_id(incident_id))
        if isinstance(existing, Escalation):
            existing.stop(why, at, actor, cause)
            self.save_tracked(existing, ended, *also, tracking=tracking)
        elif existing is None:  # the opening has not arrived yet, or its hold not released
            self.save_tracked(EarlyStop(incident_id=incident_id, why=why, at=at, actor=actor,
                                        cause=cause), ended, *also, tracking=tracking)
        else:
            self.save_tracked(ended, *also, tracking=tracking)

    def _schedule(self, incident: dict[str, str], recipients: list[Recipient], reason: str,
                  occurred_at: datetime, at: datetime, actor: str, cause: dict,
                  existing: set[UUID], occasion: str | None = None,
                  about: dict | None = None) -> list[Delivery]:
        scheduled: dict[UUID, Delivery] = {}
        for recipient in recipients:
            delivery_id = recipient.delivery_id(incident["incident_id"], reason, occasion)
            if delivery_id in existing:
                log.info("incident %s: %s to %s was scheduled before (redelivered message)",
                         incident["ref"], reason, recipient.key)
                continue
            scheduled[delivery_id] = Delivery(
                **incident, occurred_at=occurred_at,
                channel_id=str(recipient.channel.id), channel_name=recipient.channel.name,
                reason=reason, max_attempts=self.max_attempts, at=at, actor=actor, cause=cause,
                recipient=recipient.person,
                target=f"{recipient.target.kind}:{recipient.target.ref}",
                occasion=occasion, about=about)
        return list(scheduled.values())

    def _claim_at_once(self, deliveries: list[Delivery], routing: Routing, at: datetime) -> None:
        """Claim first attempts in the save that schedules them, while this process's
        delivery worker has room; it sends them once the save commits (handoff.py)."""
        for delivery in deliveries:
            if not self.handoff.has_room():
                return
            job = self._claim(delivery, 1, routing, at)
            if job is not None:
                self.handoff.claimed(job, at)

    def _notify(self, recordings: list[Any]) -> None:
        # eventsourcing's hook after every committed save (consumer batches included).
        super()._notify(recordings)
        self.handoff.committed((r.domain_event.originator_id, r.domain_event.attempt)
                               for r in recordings
                               if isinstance(r.domain_event, Delivery.AttemptStarted))

    # -- queries --------------------------------------------------------------------------
    def delivery(self, delivery_id: UUID) -> dict:
        """A delivery's current state with its attempt history, read from the event log."""
        events = self.stored_events(delivery_id)
        if not events or not isinstance(events[0], Delivery.Scheduled):
            raise DeliveryNotFound(f"delivery {delivery_id} does not exist")
        delivery = self._delivery(delivery_id)
        return {**delivery_view(delivery), "history": attempt_history(events)}
