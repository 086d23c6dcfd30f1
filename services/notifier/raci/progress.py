"""The progress cadence chased (进展汇报): the incidents service says when an incident's next
progress update is due (IncidentProgressDue) and one `progress` deadline per incident
follows it with the late-stage machinery — the Responsible reminded before it is due
(late.progress.warning), the Responsible and the Accountable told when it is missed
(late.progress.deadline), then one level up (late.progress.up). Each update meets the
running chase and starts the next towards the new due time; a severity change moves it;
resolution and closure meet it; a reopening starts it again; while the incident's
notifications are held the chase waits, and runs on from the release
(docs/progress-cadence.md)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifier.holds.opening import Opening, OpeningStatus
from services.notifier.raci.deadline import Deadline, deadline_id
from shared.causation import from_message
from shared.contracts import CloudEvent, IncidentProgressDue
from shared.store import Tracking

KEY = "progress"  # the deadline's key and kind: reasons late.progress.<phase>
_MET = {"progress": "update {n} posted", "reopened": "reopened",
        "opened": "opened", "severity": "severity changed"}


class ProgressDeadlines:
    """Mixed into NotifierApplication through RaciCommands (get_or_none, save_tracked,
    clock, _staffing_for, _deadline_settings, _deadline, _incident_known)."""

    def handle_incident_progress_due(self, envelope: CloudEvent, contract: IncidentProgressDue,
                                     tracking: Tracking) -> None:
        self.save_tracked(*self._follow_cadence(contract, envelope),  # type: ignore[attr-defined]
                          tracking=tracking)

    def _follow_cadence(self, contract: IncidentProgressDue, envelope: CloudEvent) -> list[Any]:
        incident_id = contract.incident_id
        found = self.get_or_none(deadline_id(incident_id, KEY))  # type: ignore[attr-defined]
        deadline = found if isinstance(found, Deadline) else None
        settings = self._deadline_settings()  # type: ignore[attr-defined]
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        if contract.why == "severity" and deadline is not None and contract.due_by is not None:
            # The same interval at the new severity's pace: phases fired stay fired.
            moved = deadline.move(contract.due_by, settings["warn_at"],
                                  settings["up_after_seconds"], at, "notifier", cause)
            return [deadline] if moved else []
        changed: list[Any] = []
        why = _MET.get(contract.why, contract.why).format(n=contract.last_update)
        if deadline is not None and deadline.meet(why, at, "notifier", cause):
            changed.append(deadline)
        if contract.due_by is None:  # no cadence at this severity: nothing more to chase
            return changed
        staffing = self._staffing_for(incident_id, KEY)  # type: ignore[attr-defined]
        known = self._incident_known(incident_id)  # type: ignore[attr-defined]
        held = known is None and self._notifications_held(incident_id)
        if staffing is None or (known is None and not held):  # not staffed, or unknown here
            return changed
        # The subject names the update the interval started from ("" : none since the
        # opening or the reopening), for the messages to say.
        subject = str(contract.last_update) if contract.why == "progress" else ""
        if deadline is None:
            if found is not None:  # met early (only respond/resolve kinds are): never set
                return changed
            deadline = self._deadline(  # type: ignore[attr-defined]
                staffing, KEY, KEY, subject or None, contract.since, contract.due_by,
                staffing.responsible, settings, envelope)
        elif not deadline.restart(
                started_at=contract.since, due_at=contract.due_by,
                warn_share=settings["warn_at"], up_after_seconds=settings["up_after_seconds"],
                responsible=staffing.responsible, accountable=staffing.accountable,
                accountable_at=staffing.accountable_at, up_roles=settings["up_roles"], at=at,
                actor="notifier", cause=cause, subject=subject) and not changed:
            return []
        if held:  # nobody is told yet: chased from the release, with the time it had
            deadline.hold(at, "notifier", cause)
        return [deadline]

    def _notifications_held(self, incident_id: str) -> bool:
        """Held by a silence, a maintenance window or an inhibition (not trial mode: a
        trial incident is never told, so never chased)."""
        opening = self.get_or_none(Opening.create_id(incident_id))  # type: ignore[attr-defined]
        return isinstance(opening, Opening) and opening.status is OpeningStatus.HELD

    def _progress_released(self, incident_id: str, at: datetime, actor: str,
                           cause: dict[str, Any]) -> list[Any]:
        """The hold ended: the chase runs on, every time moved by as long as it was held."""
        found = self.get_or_none(deadline_id(incident_id, KEY))  # type: ignore[attr-defined]
        if isinstance(found, Deadline) and found.release(None, at, actor, cause):
            return [found]
        return []

    def _progress_over(self, incident_id: str, why: str, envelope: CloudEvent) -> list[Any]:
        """Resolution or closure: updates are no longer expected (a reopening starts them
        again). Nothing is kept for an incident without a running chase. Read through the
        repository: in a consumer batch the chase may have been set or restarted earlier in
        the same batch."""
        found = self.get_or_none(deadline_id(incident_id, KEY))  # type: ignore[attr-defined]
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        if isinstance(found, Deadline) and found.meet(why, at, "notifier", cause):
            return [found]
        return []
