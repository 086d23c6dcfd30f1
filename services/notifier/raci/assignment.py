"""Someone given a RACI letter on an open incident by hand (or by acknowledging it with
nobody responsible): the incident's staffing follows, so later chases, re-trigger
reminders and lifecycle messages reach them, and the person is told they now hold it
(unless they took it by acknowledging)."""
from __future__ import annotations

import logging
from typing import Any

from services.notifier.raci.reach import Why, reach
from services.notifier.raci.rules import Raci
from services.notifier.raci.staffing import Staffing
from shared.store import Tracking
from shared.causation import from_message
from shared.contracts import CloudEvent, IncidentRoleAssigned

log = logging.getLogger(__name__)


class Assignments:
    """Mixed into NotifierApplication through RaciCommands."""

    def handle_incident_role_assigned(self, envelope: CloudEvent,
                                      contract: IncidentRoleAssigned,
                                      tracking: Tracking) -> None:
        staffing = self.get_or_none(Staffing.create_id(contract.incident_id))
        if not isinstance(staffing, Staffing):  # no matrix row staffed it: nothing to follow
            self.save_tracked(tracking=tracking)
            return
        at, cause = self.clock.now(), from_message(envelope)
        letter = Raci(contract.role)
        if not staffing.assign(letter, contract.person, at, "notifier", cause):
            self.save_tracked(tracking=tracking)
            return
        told: list[Any] = []
        if contract.via != "acknowledged":
            told = self._tell_assigned(staffing, letter, contract, envelope)
        self.save_tracked(staffing, *told, tracking=tracking)

    def _tell_assigned(self, staffing: Staffing, letter: Raci,
                       contract: IncidentRoleAssigned, envelope: CloudEvent) -> list[Any]:
        at = self.clock.now()
        routing, _ = self.config_cache.current()
        recipients = reach([contract.person], Why("raci", str(letter)), self.org_chart(),
                           routing)
        if not recipients:
            log.info("incident %s: %s is now %s but has no contact on a registered channel",
                     staffing.ref, contract.person, letter)
        # One message per assignment: the same person given the letter again later is told
        # again (the envelope names this assignment).
        deliveries = self._schedule(staffing.incident, recipients, f"raci.assigned.{letter}",
                                    contract.at, at, "notifier", from_message(envelope),
                                    set(), occasion=envelope.id)
        self._claim_at_once(deliveries, routing, at)
        return deliveries
