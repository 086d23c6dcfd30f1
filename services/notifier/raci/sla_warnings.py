"""The incidents service warns that an SLA deadline is at risk (the policy's share of its
working time has passed): the Responsible is told, once per deadline, with the time left.
Held and trial incidents tell nobody, as for every lifecycle message. When an incident that
awaits its requester (SLA paused), its chases and its support tier's time box are held: none
fires; when it resumes, each held one moves on by the time held (respond and resolve to the new
deadlines the resumption carries), and the respond and resolve chases move to them anyway."""
from __future__ import annotations

from typing import Any

from services.notifier.raci.deadline import Deadline, deadline_id
from services.notifier.raci.reach import Why, reach
from services.notifier.raci.rules import Raci, Stage
from services.notifier.raci.staffing import Staffing
from shared.causation import from_message
from services.notifier.support.ticket import SupportTicket
from shared.contracts import CloudEvent, IncidentSlaAtRisk, IncidentSlaPaused, IncidentSlaResumed
from shared.store import Tracking

SLA_AT_RISK = "sla.at_risk"


class SlaWarnings:
    """Mixed into NotifierApplication through RaciCommands (get_or_none, save_tracked,
    clock, reads, config_cache, org_chart, _incident_known, _schedule, _claim_at_once)."""

    def handle_incident_sla_at_risk(self, envelope: CloudEvent, contract: IncidentSlaAtRisk,
                                    tracking: Tracking) -> None:
        self.save_tracked(*self._warn_responsible(contract, envelope),  # type: ignore[attr-defined]
                          tracking=tracking)

    def handle_incident_sla_paused(self, envelope: CloudEvent, contract: IncidentSlaPaused,
                                   tracking: Tracking) -> None:
        at = self.clock.now()  # type: ignore[attr-defined]
        held = [d for d in self._incident_deadlines(contract.incident_id)
                if d.hold(at, "notifier", from_message(envelope))]
        self.save_tracked(*held, tracking=tracking)  # type: ignore[attr-defined]

    def handle_incident_sla_resumed(self, envelope: CloudEvent, contract: IncidentSlaResumed,
                                    tracking: Tracking) -> None:
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        released = [d for d in self._incident_deadlines(contract.incident_id)
                    if d.release(contract.deadlines.get(d.key), at, "notifier", cause)]
        # Not held here (the pause came before this notifier knew the incident, or never):
        # the respond and resolve chases still move to the new deadlines.
        done = {d.key for d in released}
        moved = self._move_deadlines(  # type: ignore[attr-defined]
            contract.incident_id, {k: v for k, v in contract.deadlines.items()
                                   if k in ("respond", "resolve") and k not in done}, envelope)
        self.save_tracked(*released, *moved, tracking=tracking)  # type: ignore[attr-defined]

    def _incident_deadlines(self, incident_id: str) -> list[Deadline]:
        """The incident's own chases: respond, resolve, its stages' time boxes, and the time
        box of the support tier it is in (CAPA actions have their own owners and dates)."""
        keys = ["respond", "resolve", *(f"stage:{s}" for s in Stage)]
        ticket = self.get_or_none(SupportTicket.create_id(incident_id))  # type: ignore[attr-defined]
        if isinstance(ticket, SupportTicket) and ticket.level is not None:
            keys.append(ticket.deadline_key(ticket.level))
        found = (self.get_or_none(deadline_id(incident_id, k)) for k in keys)  # type: ignore[attr-defined]
        return [d for d in found if isinstance(d, Deadline)]

    def _warn_responsible(self, contract: IncidentSlaAtRisk,
                          envelope: CloudEvent) -> list[Any]:
        incident = self._incident_known(contract.incident_id)  # type: ignore[attr-defined]
        if incident is None:
            return []
        handles = list(contract.responsible)
        if not handles:  # nobody assigned by hand yet: the Responsible the matrix staffed
            staffing = self.get_or_none(  # type: ignore[attr-defined]
                Staffing.create_id(contract.incident_id))
            if isinstance(staffing, Staffing):
                handles = staffing.people(Raci.RESPONSIBLE)
        routing, _ = self.config_cache.current()  # type: ignore[attr-defined]
        recipients = reach(handles, Why("raci", str(Raci.RESPONSIBLE)),
                           self.org_chart(), routing)  # type: ignore[attr-defined]
        at = self.clock.now()  # type: ignore[attr-defined]
        existing = set(self.reads.latest_versions(  # type: ignore[attr-defined]
            r.delivery_id(contract.incident_id, SLA_AT_RISK, envelope.id) for r in recipients))
        deliveries = self._schedule(  # type: ignore[attr-defined]
            incident, recipients, SLA_AT_RISK, contract.at, at, "notifier",
            from_message(envelope), existing, occasion=envelope.id,
            about={"deadline": contract.kind, "due_at": contract.deadline.isoformat(),
                   "responsible": handles})
        self._claim_at_once(deliveries, routing, at)  # type: ignore[attr-defined]
        return deliveries
