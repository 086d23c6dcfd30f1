"""The escalation timer's commands, mixed into NotifierApplication: start an incident's ladder
when step 0 is told, fire each step when it is due, and remind after an acknowledgement left
unresolved too long (re-trigger). Each fires once: the aggregate's guard refuses a second."""
from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from services.notifier.config_cache import Routing
from services.notifier.domain import (
    ChannelNotFound, EarlyStop, Escalation, EscalationNotFound, EscalationPolicy,
    EscalationStatus, Target, TargetKind,
)
from services.notifier.domain.ladder import merge
from services.notifier.holds.decision import recheck_at
from services.notifier.holds.opening import Opening
from services.notifier.raci.staffing import Staffing
from services.notifier.recipients import Resolution, resolve
from shared.causation import from_timer

log = logging.getLogger(__name__)

ESCALATE_WORKER = "notifier.escalate_due"


class Escalating:
    """Needs the application's get_or_none, save, save_together, _deciding, hold_on_ladder,
    _schedule and _claim_at_once."""

    def _start_escalation(self, incident: dict[str, str], started_at: datetime,
                          policies: list[EscalationPolicy], routing: Routing, at: datetime,
                          actor: str, cause: dict) -> Escalation | None:
        # One ladder per incident: when several policies match, their ladders merge step by
        # step (ladder.merge).
        if not policies:
            return None
        ladder = merge([p.ladder for p in policies])
        names = {}
        for cid in ladder.channel_ids():
            try:
                names[cid] = routing.channel(cid).name
            except ChannelNotFound:
                continue  # said when its step fires
        return Escalation.start(
            incident=incident, opened_at=started_at, ladder=ladder,
            policy_ids=[str(p.id) for p in policies], channel_names=names, at=at,
            actor=actor, cause=cause)

    def _not_restarted(self, incident: dict[str, str]) -> None:
        if isinstance(self.get_or_none(Escalation.create_id(incident["incident_id"])), EarlyStop):
            log.info("incident %s was acknowledged before it reached the notifier: no escalation",
                     incident["ref"])
        # else a redelivered message: the timer already runs

    def escalate_together(self, incident_ids: list[str], at: datetime
                          ) -> list[list[str] | Exception]:
        """Fire these incidents' due steps (escalate, each) and save them in one transaction;
        each result is the new delivery ids or why that incident's guard refused. Raises when
        the batch cannot be written (another writer was first, the database is away): the
        caller then fires them one by one."""
        return self.save_together(  # type: ignore[attr-defined]
            [lambda i=i: self.escalate(i, at) for i in incident_ids],
            read_ahead=[*(Escalation.create_id(i) for i in incident_ids),
                        *(Opening.create_id(i) for i in incident_ids)])

    def escalate(self, incident_id: str, at: datetime) -> list[str]:
        """Fire the incident's due step (once: the guard refuses a second time), resolving
        its targets now, and schedule its messages in the same save. Returns the new
        delivery ids. While a silence or maintenance window holds the incident, the step
        (or re-trigger) is held instead, to be looked at again when the hold ends."""
        escalation = self.get_or_none(Escalation.create_id(incident_id))
        if not isinstance(escalation, Escalation):
            raise EscalationNotFound(f"incident {incident_id} has no escalation")
        cause = {**from_timer(ESCALATE_WORKER), "correlation_id": escalation.correlation_id}
        hold = self.hold_on_ladder(incident_id, at)
        if hold is not None:
            reason = escalation.hold(hold, recheck_at(hold), at, ESCALATE_WORKER, cause)
            log.info("incident %s: %s held by %s %s until %s", escalation.ref, reason,
                     hold["kind"], hold.get("name") or hold.get("id"), hold["until"])
            self.save(escalation)
            return []
        incident = {"incident_id": escalation.incident_id, "ref": escalation.ref,
                    "severity": escalation.severity, "title": escalation.title,
                    "entity": escalation.entity, "facts": getattr(escalation, "facts", None)}
        if escalation.status is EscalationStatus.ACKNOWLEDGED:
            return self._retrigger(escalation, incident, at, cause)
        fired = escalation.due_step(at)
        targets = escalation.ladder.targets(fired.step)

        reason = escalation.reason_of(fired)

        def created_by_it(routing: Routing) -> list[UUID]:
            return [r.delivery_id(incident_id, reason)
                    for r in resolve(targets, incident, at, routing, self).recipients]

        # In a batch (escalate_together) the configuration is checked once and existing
        # deliveries are not asked about: a step's guard refuses a second firing, and a
        # delivery made before makes the batch's write conflict; one by one then asks.
        routing, existing = self._deciding(created_by_it)
        resolution = resolve(targets, incident, at, routing, self)
        escalation.escalate([r.told() for r in resolution.recipients], at, ESCALATE_WORKER, cause,
                            resolution.unresolved)
        deliveries = self._schedule(incident, resolution.recipients, reason, at, at,
                                    ESCALATE_WORKER, cause, existing)
        self._claim_at_once(deliveries, routing, at)
        self.save(escalation, *deliveries)
        return [str(d.id) for d in deliveries]

    def _retrigger(self, escalation: Escalation, incident: dict[str, str], at: datetime,
                   cause: dict) -> list[str]:
        """Acknowledged and still not resolved: remind whoever acknowledged and the
        incident's Responsible (or, when none can be reached, those told first) and let the
        ladder resume."""
        by = escalation.retrigger_due(at)
        reason = escalation.retrigger_reason

        staffing = self.get_or_none(Staffing.create_id(incident["incident_id"]))
        responsible = staffing.responsible if isinstance(staffing, Staffing) else []
        people = [Target(TargetKind.PERSON, h) for h in dict.fromkeys([by, *responsible])]

        def reminded(routing: Routing) -> Resolution:
            found = resolve(people, incident, at, routing, self)
            if found.recipients:
                return found
            first = resolve(escalation.ladder.targets(0), incident, at, routing, self)
            return Resolution(first.recipients, found.unresolved + first.unresolved)

        routing, existing = self._deciding(
            lambda r: [x.delivery_id(incident["incident_id"], reason)
                       for x in reminded(r).recipients])
        found = reminded(routing)
        recipients = found.recipients
        escalation.retrigger([r.told() for r in recipients], at, ESCALATE_WORKER, cause,
                             found.unresolved)
        deliveries = self._schedule(incident, recipients, reason, at, at, ESCALATE_WORKER,
                                    cause, existing)
        self._claim_at_once(deliveries, routing, at)
        self.save(escalation, *deliveries)
        return [str(d.id) for d in deliveries]
