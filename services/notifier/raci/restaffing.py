"""A severity change re-staffs the incident from the new severity's matrix row, resolved
against the organisation as at the opening. Letters given by hand before the change are
kept over the matrix: a person chose them for this incident, the matrix did not. People
newly Responsible or Accountable are told they hold it; the chases that follow name the
people, and use the time boxes, of the new severity."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from services.notifier.holds.opening import Opening
from services.notifier.raci.deadline import Deadline, deadline_id
from services.notifier.raci.reach import Why, reach
from services.notifier.raci.rules import Raci, Stage
from services.notifier.raci.staffing import Staffing, find_people
from shared.causation import from_message
from shared.contracts import CloudEvent, IncidentSeverityChanged

log = logging.getLogger(__name__)

# "observing": a self-fixed incident watched before it closes (resolved already).
_AFTER_RESOLUTION = {str(s) for s in Stage} | {"observing", "closed", "archived"}


class Restaffing:
    """Mixed into NotifierApplication through RaciCommands (get_or_none, clock, org_chart,
    config_cache, raci_rules_stored, _deadline_settings, _incident_known, _started,
    _schedule, _claim_at_once)."""

    def _restaff(self, contract: IncidentSeverityChanged, envelope: CloudEvent) -> list[Any]:
        """The staffing at the new severity, the messages to its new R and A, and the
        chases it changes. Nothing for an incident never opened here, or with neither a
        staffing nor a matrix row for the new severity."""
        incident_id = contract.incident_id
        rules = self.raci_rules_stored()  # type: ignore[attr-defined]
        row = rules.roles_for(contract.severity) if rules is not None else None
        staffing = self.get_or_none(Staffing.create_id(incident_id))  # type: ignore[attr-defined]
        opening = self.get_or_none(Opening.create_id(incident_id))  # type: ignore[attr-defined]
        if not isinstance(staffing, Staffing) and (row is None or not isinstance(opening, Opening)):
            return []
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        chart = self.org_chart()  # type: ignore[attr-defined]
        incident = staffing.incident if isinstance(staffing, Staffing) else opening.incident
        labels = opening.labels if isinstance(opening, Opening) else None
        found = (find_people(chart, incident["entity"], labels, row)
                 if row is not None else None)
        if isinstance(staffing, Staffing):
            chased = staffing.matrix
            newly = staffing.restaff(contract.severity, found, at, "notifier", cause)
        else:  # opened without a matrix row: staffed now, as an opening would have been
            chased = False
            assert found is not None
            staffing = Staffing.record(incident={**incident, "severity": contract.severity},
                                       found=found, at=at, actor="notifier", cause=cause)
            newly = {str(letter): staffing.people(letter)
                     for letter in (Raci.RESPONSIBLE, Raci.ACCOUNTABLE) if staffing.people(letter)}
        changed: list[Any] = [staffing]
        if self._incident_known(incident_id) is None:  # type: ignore[attr-defined]
            return changed  # held: told, and chased, once released
        changed += self._tell_given(staffing, newly, contract, envelope, chart)
        if staffing.matrix and not chased:  # a row staffs it now: its first chases
            changed += self._first_chases(staffing, contract, envelope)
        changed += self._rebox_stage(staffing, contract, envelope)
        return changed

    def _tell_given(self, staffing: Staffing, newly: dict[str, list[str]],
                    contract: IncidentSeverityChanged, envelope: CloudEvent,
                    chart: Any) -> list[Any]:
        at = self.clock.now()  # type: ignore[attr-defined]
        routing, _ = self.config_cache.current()  # type: ignore[attr-defined]
        deliveries: list[Any] = []
        for letter, handles in newly.items():
            recipients = reach(handles, Why("raci", letter), chart, routing)
            deliveries += self._schedule(  # type: ignore[attr-defined]
                staffing.incident, recipients, f"raci.assigned.{letter}", contract.at, at,
                "notifier", from_message(envelope), set(), occasion=envelope.id,
                about={"by": contract.by, "previous": contract.previous,
                       "severity": contract.severity})
        self._claim_at_once(deliveries, routing, at)  # type: ignore[attr-defined]
        return deliveries

    def _first_chases(self, staffing: Staffing, contract: IncidentSeverityChanged,
                      envelope: CloudEvent) -> list[Any]:
        """Respond (unless someone has it in hand) and resolve (unless resolved) towards the
        new deadlines, warned from the change: nobody was chased before it."""
        settings = self._deadline_settings()  # type: ignore[attr-defined]
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        due = {"respond": None if contract.acknowledged else contract.respond_by,
               "resolve": None if contract.status in _AFTER_RESOLUTION else contract.resolve_by}
        return [staffing.deadline(key=kind, kind=kind, subject=None, started_at=contract.at,
                                  due_at=due_at, responsible=staffing.responsible,
                                  settings=settings, at=at, actor="notifier", cause=cause)
                for kind, due_at in due.items()
                if due_at is not None and not self._started(contract.incident_id, kind)]  # type: ignore[attr-defined]

    def _rebox_stage(self, staffing: Staffing, contract: IncidentSeverityChanged,
                     envelope: CloudEvent) -> list[Any]:
        """The stage the incident is in gets the new severity's time box, from when it was
        entered (a stage the new severity does not time keeps its box)."""
        settings = self._deadline_settings()  # type: ignore[attr-defined]
        boxes = settings["stages"].get(contract.severity, {})
        moved = []
        for stage in Stage:
            deadline = self.get_or_none(deadline_id(contract.incident_id, f"stage:{stage}"))  # type: ignore[attr-defined]
            box = boxes.get(str(stage))
            if isinstance(deadline, Deadline) and box is not None and deadline.move(
                    deadline.started_at + timedelta(seconds=box), settings["warn_at"],
                    settings["up_after_seconds"], self.clock.now(),  # type: ignore[attr-defined]
                    "notifier", from_message(envelope)):
                moved.append(deadline)
        return moved
