"""Deadlines the CAPA case sets: an action's due date (Responsible: its owner) and, once it
is completed, its verification (Responsible: the incident's Responsible, who drives it to
closure). The Accountable is the incident's. Met by CapaActionCompleted and
CapaActionVerified."""
from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.notifier.directory.chart import OrgChart
from services.notifier.raci.deadline import Deadline, MetEarly, deadline_id
from services.notifier.raci.rules import DEFAULT_DEADLINES
from services.notifier.raci.staffing import Staffing
from shared.causation import from_message
from shared.contracts import (
    CapaActionAdded, CapaActionCompleted, CapaActionVerified, CloudEvent,
)
from shared.store import Tracking

log = logging.getLogger(__name__)


class CapaDeadlines:
    """Mixed into NotifierApplication through RaciCommands."""

    def handle_capa_action_added(self, envelope: CloudEvent, contract: CapaActionAdded,
                                 tracking: Tracking) -> None:
        key = f"action:{contract.action_id}"
        staffing = self._staffing_for(contract.incident_id, key)
        if staffing is None or self._started(contract.incident_id, key):
            self.save_tracked(tracking=tracking)
            return
        settings = self._deadline_settings()
        owner = person_named(self.org_chart(), contract.owner)
        if owner is None:
            log.warning("incident %s: action %s's owner %r is not a person of the "
                        "organisation; its warning reaches nobody", staffing.ref,
                        contract.action_id, contract.owner)
        due_at = end_of(contract.due_date, settings["time_zone"])
        deadline = self._deadline(staffing, key, "action", contract.action_id, contract.at,
                                  due_at, [owner] if owner else [], settings, envelope)
        self.save_tracked(deadline, tracking=tracking)

    def handle_capa_action_completed(self, envelope: CloudEvent,
                                     contract: CapaActionCompleted, tracking: Tracking) -> None:
        met = self._meet(contract.incident_id, [f"action:{contract.action_id}"],
                         f"completed by {contract.completed_by}", envelope)
        key = f"verification:{contract.action_id}"
        staffing = self._staffing_for(contract.incident_id, key)
        if staffing is None or self._started(contract.incident_id, key):
            self.save_tracked(*met, tracking=tracking)
            return
        settings = self._deadline_settings()
        due_at = contract.at + timedelta(seconds=settings["verify_within_seconds"])
        deadline = self._deadline(staffing, key, "verification", contract.action_id,
                                  contract.at, due_at, staffing.responsible, settings, envelope)
        self.save_tracked(*met, deadline, tracking=tracking)

    def handle_capa_action_verified(self, envelope: CloudEvent, contract: CapaActionVerified,
                                    tracking: Tracking) -> None:
        met = self._meet(contract.incident_id, [f"verification:{contract.action_id}"],
                         f"verified by {contract.verifier}", envelope)
        self.save_tracked(*met, tracking=tracking)

    # -- shared steps ---------------------------------------------------------------------
    def _staffing_for(self, incident_id: str, key: str) -> Staffing | None:
        staffing = self.get_or_none(Staffing.create_id(incident_id))
        if not isinstance(staffing, Staffing) or not staffing.matrix:
            # Debug: without a RACI matrix this is every incident (a storm logged each).
            log.debug("incident %s was not staffed by the matrix here: its %s deadline is not "
                      "chased", incident_id, key)
            return None
        return staffing

    def _started(self, incident_id: str, key: str) -> bool:
        """Set already (a redelivery), or met before it was set."""
        return isinstance(self.get_or_none(deadline_id(incident_id, key)), (Deadline, MetEarly))

    def _deadline_settings(self) -> dict[str, Any]:
        rules = self.raci_rules_stored()
        return rules.deadlines if rules is not None else dict(DEFAULT_DEADLINES)

    def _deadline(self, staffing: Staffing, key: str, kind: str, subject: str,
                  started_at: datetime, due_at: datetime, responsible: list[str],
                  settings: dict[str, Any], envelope: CloudEvent) -> Deadline:
        return staffing.deadline(key=key, kind=kind, subject=subject, started_at=started_at,
                                 due_at=due_at, responsible=responsible, settings=settings,
                                 at=self.clock.now(), actor="notifier",
                                 cause=from_message(envelope))


def person_named(chart: OrgChart, owner: str) -> str | None:
    """The handle of the person an action's owner names: by handle, else by display name
    when exactly one person still here has it."""
    if chart.person(owner) is not None:
        return owner
    named = [h for h, p in chart.people.items() if p.get("name") == owner and not p.get("left")]
    return named[0] if len(named) == 1 else None


def end_of(day: Any, zone: str) -> datetime:
    """A due date is met until the day is over where the organisation works."""
    return datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(zone))
