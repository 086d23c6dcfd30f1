"""The progress cadence (进展汇报): while an incident is open its audience expects an update
at a steady rhythm (P0: every 4 hours). The incident keeps when the next one is due — the
time its last update's author stated, else a cadence after the opening, the reopening or
the last update — and records each change as `UpdateDue`, which the notifier chases.
The rhythm itself is the SLA policy's (services/incidents/progress_cadence.py)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import FINISHED, IncidentCore
from shared.errors import Invalid

# How far ahead an author may promise the next update: beyond it the promise is not a
# cadence any more (a week covers waiting on a supplier; anything longer is a new plan).
STATED_AT_MOST = timedelta(days=7)


class IncidentCadence(IncidentCore):
    """State older incidents' events never set (no annotations: eventsourcing would take
    them for fields)."""

    update_due_by = None  # when the next progress update is due; None: no cadence
    update_since = None  # the start of the running interval (opening, reopening, update)
    update_stated = False  # the due time is the one the last update's author stated
    last_update_at = None  # when the last progress update was posted

    @property
    def cadence_running(self) -> bool:
        """Updates are expected until service is restored (or the case closed)."""
        status = self.status  # type: ignore[attr-defined]
        return self.resolved_at is None and status not in FINISHED  # type: ignore[attr-defined]

    def next_update_due(self) -> datetime | None:
        return self.update_due_by if self.cadence_running else None

    def update_overdue(self, now: datetime) -> bool:
        due = self.next_update_due()
        return due is not None and now >= due

    def expect_update(self, due_by: datetime | None, since: datetime, why: str, stated: bool,
                      at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        """Record when the next update is due (None: this severity has no cadence). False
        (nothing recorded) once resolved or closed, or for a severity change that leaves
        the due time as it was; an opening, an update and a reopening always start anew."""
        if not self.cadence_running or (why == "severity" and due_by == self.update_due_by):
            return False
        self._update_due(ref=self.ref, severity=str(self.severity),  # type: ignore[attr-defined]
                         due_by=due_by, since=since, why=why, stated=stated,
                         last_update=self.progress_posted or None,  # type: ignore[attr-defined]
                         at=at, actor=actor, cause=cause)
        return True

    @event("UpdateDue")
    def _update_due(self, ref: str, severity: str, due_by: datetime | None, since: datetime,
                    why: str, stated: bool, last_update: int | None, at: datetime,
                    actor: str, cause: dict[str, Any]) -> None:
        self.update_due_by, self.update_since, self.update_stated = due_by, since, stated
        if why == "progress":
            self.last_update_at = since


def check_stated(next_update_at: datetime | None, at: datetime) -> None:
    """A stated next update lies ahead, within STATED_AT_MOST."""
    if next_update_at is None:
        return
    if next_update_at <= at:
        raise Invalid("next_update_at", f"{next_update_at.isoformat()} is not in the future "
                      f"(now {at.isoformat()}): give a later time or next_update_in")
    if next_update_at - at > STATED_AT_MOST:
        raise Invalid("next_update_at", "at most 7 days ahead: post an update before then")
