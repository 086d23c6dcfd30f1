"""A systemic problem (CapaSystemicProblemRaised: one rule recurring across the
organisation) is reported to the accountable manager, 上报总部: one level above the
Accountable of the newest linked incident that the matrix staffed here, as a late stage is
chased one level up (reach.one_level_up). When nobody holds a role above, the holders of
the deadlines' `up_roles` at the root unit (总部) are told. docs/adr/recurrence.md. The same
people hear when it closes (docs/adr/systemic-cases.md)."""
from __future__ import annotations

import logging
from typing import Any

from services.notifier.directory.chart import OrgChart
from services.notifier.raci.reach import Up, Why, one_level_up, reach, unreachable
from services.notifier.raci.staffing import Staffing
from shared.causation import from_message
from shared.contracts import (
    CapaSystemicProblemClosed, CapaSystemicProblemRaised, CloudEvent,
)
from shared.store import Tracking

log = logging.getLogger(__name__)

REASON = "capa.systemic"
REASON_CLOSED = "capa.systemic_closed"  # its fix held (CapaSystemicProblemClosed)


class SystemicReports:
    """Mixed into NotifierApplication through RaciCommands."""

    def handle_capa_systemic_problem_raised(self, envelope: CloudEvent,
                                            contract: CapaSystemicProblemRaised,
                                            tracking: Tracking) -> None:
        self._report_up(envelope, tracking, REASON, contract.systemic_id, contract.signature,
                        contract.incident_ids, contract.at, {
                            "id": contract.systemic_id, "signature": contract.signature,
                            "rule": contract.rule, "recurrences": contract.recurrences,
                            "threshold": contract.threshold,
                            "period_seconds": contract.period_seconds,
                            "entities": list(contract.entities),
                            "incident_refs": list(contract.incident_refs),
                            "capa_ids": list(contract.capa_ids), "summary": contract.summary})

    def handle_capa_systemic_problem_closed(self, envelope: CloudEvent,
                                            contract: CapaSystemicProblemClosed,
                                            tracking: Tracking) -> None:
        """The manager told of the problem hears that its fix held and who checked it."""
        self._report_up(envelope, tracking, REASON_CLOSED, contract.systemic_id,
                        contract.signature, contract.incident_ids, contract.at, {
                            "id": contract.systemic_id, "signature": contract.signature,
                            "rule": contract.rule, "root_cause": contract.root_cause,
                            "actions": contract.actions, "capa_ids": list(contract.capa_ids),
                            "recurrences": len(contract.incident_ids),
                            "window_seconds": contract.window_seconds,
                            "checked_by": contract.checked_by, "check": contract.check})

    def _report_up(self, envelope: CloudEvent, tracking: Tracking, reason: str,
                   systemic_id: str, signature: str, incident_ids: list[str], occurred: Any,
                   about: dict[str, Any]) -> None:
        staffing = self._newest_staffed(incident_ids)
        if staffing is None:
            log.warning("systemic problem %s (%s): none of its incidents was staffed by the "
                        "matrix here, so its accountable manager is not known; nobody is told",
                        systemic_id, signature)
            self.save_tracked(tracking=tracking)
            return
        at, cause, chart = self.clock.now(), from_message(envelope), self.org_chart()
        up = accountable_manager(chart, staffing, self._deadline_settings()["up_roles"])
        why = Why("up", f"{up.role}@{up.unit}")

        def told(routing: Any) -> list[Any]:
            return reach(up.handles, why, chart, routing)

        # The systemic problem is the occasion: a redelivery finds its deliveries scheduled.
        routing, existing = self.config_cache.current(
            also=lambda r: [x.delivery_id(staffing.incident_id, reason, systemic_id)
                            for x in told(r)])
        recipients = told(routing)
        for missing in [*([up.why_not] if up.why_not else []),
                        *unreachable(up.handles, recipients)]:
            log.warning("systemic problem %s: %s", systemic_id, missing)
        deliveries = self._schedule(
            {**staffing.incident, "severity": staffing.severity}, recipients, reason,
            occurred, at, "notifier", cause, existing, occasion=systemic_id,
            about={"systemic": about})
        self._claim_at_once(deliveries, routing, at)
        self.save_tracked(*deliveries, tracking=tracking)

    def _newest_staffed(self, incident_ids: list[str]) -> Staffing | None:
        """The staffing of the newest linked incident the matrix staffed (the contract lists
        them oldest first)."""
        for incident_id in reversed(incident_ids):
            staffing = self.get_or_none(Staffing.create_id(incident_id))
            if isinstance(staffing, Staffing) and staffing.matrix:
                return staffing
        return None


def accountable_manager(chart: OrgChart, staffing: Staffing, up_roles: list[str]) -> Up:
    """One level above where the incident's Accountable role was held; else the holders of
    `up_roles` (in order) at the root unit, the headquarters."""
    up = one_level_up(chart, staffing.accountable_at, up_roles, staffing.unit)
    if up.handles:
        return up
    for unit in chart.units.values():
        if unit.get("parent") is not None:
            continue
        for role in up_roles:
            holders = [h for h in unit["roles"].get(role, []) if chart.is_reachable(h)]
            if holders:
                return Up(holders, role, unit["key"])
    return up
