"""The incidents service warns that an SLA deadline is at risk (the policy's share of its
working time has passed): the Responsible is told, once per deadline, with the time left.
Held and trial incidents tell nobody, as for every lifecycle message. When an incident that
awaited its requester resumes, the respond and resolve chases move to its new deadlines."""
from __future__ import annotations

from typing import Any

from services.notifier.raci.reach import Why, reach
from services.notifier.raci.rules import Raci
from services.notifier.raci.staffing import Staffing
from shared.causation import from_message
from shared.contracts import CloudEvent, IncidentSlaAtRisk, IncidentSlaResumed
from shared.store import Tracking

SLA_AT_RISK = "sla.at_risk"


class SlaWarnings:
    """Mixed into NotifierApplication through RaciCommands (get_or_none, save_tracked,
    clock, reads, config_cache, org_chart, _incident_known, _schedule, _claim_at_once)."""

    def handle_incident_sla_at_risk(self, envelope: CloudEvent, contract: IncidentSlaAtRisk,
                                    tracking: Tracking) -> None:
        self.save_tracked(*self._warn_responsible(contract, envelope),  # type: ignore[attr-defined]
                          tracking=tracking)

    def handle_incident_sla_resumed(self, envelope: CloudEvent, contract: IncidentSlaResumed,
                                    tracking: Tracking) -> None:
        moved = self._move_deadlines(  # type: ignore[attr-defined]
            contract.incident_id, {k: v for k, v in contract.deadlines.items()
                                   if k in ("respond", "resolve")}, envelope)
        self.save_tracked(*moved, tracking=tracking)  # type: ignore[attr-defined]

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
