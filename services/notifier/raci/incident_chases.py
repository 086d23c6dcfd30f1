"""The respond and resolve chases when the incident changes after its opening: a severity
change moves those still waiting to the new severity's times; a reopening chases them
again from the reopening (the last ones were met), as the opening did."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from services.notifier.raci.deadline import Deadline, deadline_id
from services.notifier.raci.staffing import Staffing
from shared.causation import from_message
from shared.contracts import CloudEvent, IncidentReopened

log = logging.getLogger(__name__)


class IncidentChases:
    """Mixed into NotifierApplication through RaciCommands (get_or_none, clock,
    _deadline_settings, _incident_known)."""

    def _move_deadlines(self, incident_id: str, due: dict[str, datetime],
                        envelope: CloudEvent) -> list[Any]:
        """The respond and resolve chases still waiting, towards the new severity's times."""
        settings = self._deadline_settings()  # type: ignore[attr-defined]
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        moved = []
        for key, due_at in due.items():
            # One at a time, through the repository: in a consumer batch this sees the
            # deadlines an opening earlier in the batch set.
            deadline = self.get_or_none(deadline_id(incident_id, key))  # type: ignore[attr-defined]
            if isinstance(deadline, Deadline) and deadline.move(
                    due_at, settings["warn_at"], settings["up_after_seconds"], at,
                    "notifier", cause):
                moved.append(deadline)
        return moved

    def _chase_again(self, contract: IncidentReopened, envelope: CloudEvent) -> list[Any]:
        """New respond and resolve chases from the reopening, to the incident's people as
        they are now: the Responsible warned at the configured share, the Accountable told
        at the deadline, then one level up. None for an incident no matrix row staffed, or
        whose notifications are held (nobody is chased while nobody is told)."""
        incident_id = contract.incident_id
        staffing = self.get_or_none(Staffing.create_id(incident_id))  # type: ignore[attr-defined]
        if not isinstance(staffing, Staffing) or not staffing.matrix or self._incident_known(  # type: ignore[attr-defined]
                incident_id) is None:
            return []
        settings = self._deadline_settings()  # type: ignore[attr-defined]
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        chased = []
        for kind, due_at in (("respond", contract.respond_by), ("resolve", contract.resolve_by)):
            if due_at is None:  # a reopening published before it said when to respond by
                continue
            deadline = self.get_or_none(deadline_id(incident_id, kind))  # type: ignore[attr-defined]
            if isinstance(deadline, Deadline):
                if deadline.restart(
                        started_at=contract.at, due_at=due_at, warn_share=settings["warn_at"],
                        up_after_seconds=settings["up_after_seconds"],
                        responsible=staffing.responsible, accountable=staffing.accountable,
                        accountable_at=staffing.accountable_at, up_roles=settings["up_roles"],
                        at=at, actor="notifier", cause=cause):
                    chased.append(deadline)
            elif deadline is None:  # never set (its opening was met before it came)
                chased.append(staffing.deadline(
                    key=kind, kind=kind, subject=None, started_at=contract.at, due_at=due_at,
                    responsible=staffing.responsible, settings=settings, at=at,
                    actor="notifier", cause=cause))
            else:
                log.info("incident %s: %s was met before it was set; not chased again",
                         contract.ref, kind)
        return chased
