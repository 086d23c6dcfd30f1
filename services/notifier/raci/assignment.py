"""Someone given a RACI letter on an open incident by hand (or by acknowledging it with
nobody responsible): the incident's staffing follows, so later chases, re-trigger
reminders and lifecycle messages reach them, and the person is told they now hold it
(unless they took it by acknowledging). An incident no matrix row staffed gets a staffing
of the people named by hand: they are told and hear of its lifecycle, but it is not
chased (no row, no deadlines' policy to chase it by)."""
from __future__ import annotations

import logging
from typing import Any

from services.notifier.holds.opening import Opening
from services.notifier.raci.lifecycle import CurrentSeverity
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
        at, cause = self.clock.now(), from_message(envelope)
        staffing = self.get_or_none(Staffing.create_id(contract.incident_id))
        if not isinstance(staffing, Staffing):
            # No matrix row staffed it: a staffing of the people named by hand, so that they
            # are told now and hear of its lifecycle. Unknown here (never opened): nothing.
            opening = self.get_or_none(Opening.create_id(contract.incident_id))
            if not isinstance(opening, Opening):
                self.save_tracked(tracking=tracking)
                return
            note = self.get_or_none(CurrentSeverity.create_id(contract.incident_id))
            incident = (opening.incident if not isinstance(note, CurrentSeverity)
                        else {**opening.incident, "severity": note.severity})
            staffing = Staffing.by_hand(incident=incident, at=at, actor="notifier", cause=cause)
        letter = Raci(contract.role)
        if not staffing.assign(letter, contract.person, at, "notifier", cause):
            self.save_tracked(tracking=tracking)
            return
        told: list[Any] = []
        # Who acknowledged knows it; a support tier's person was told by the tier's message.
        if contract.via not in ("acknowledged", "tier"):
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
