"""The progress cadence applied, mixed into IncidentsApplication: when the next progress
update of an incident is due — the time its author stated, else the SLA policy's
`update_every` counted on the policy's calendar from the opening, the reopening or the last
update — recorded on the incident when it opens, takes an update, is reopened or changes
severity. The notifier chases it (late.progress.*); resolution stops it."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.incidents.domain import Incident
from services.incidents.domain.cadence import check_stated
from services.incidents.sla_policies import SlaPolicies

CADENCE = "progress cadence"


class ProgressCadence:
    """Needs the application's sla_policies and _change."""

    sla_policies: SlaPolicies

    def expect_update(self, incident: Incident, since: datetime, why: str, at: datetime,
                      cause: dict[str, Any], stated: datetime | None = None,
                      actor: str = CADENCE) -> bool:
        """Record the next update's due time from `since` (`why`: opened, progress,
        reopened, severity). False when nothing changed or updates are not expected."""
        return incident.expect_update(self.update_due(incident, since, stated), since, why,
                                      stated is not None, at, actor, cause)

    def update_due(self, incident: Incident, since: datetime,
                   stated: datetime | None = None) -> datetime | None:
        """`stated`, else a cadence from `since` on the policy's calendar; None without."""
        if stated is not None:
            return stated
        policy = self.sla_policies.policy(incident.severity, incident.sla_type)
        every = policy.update_every
        return policy.calendar.add(since, every) if every is not None else None

    def recadence(self, incident: Incident, at: datetime, cause: dict[str, Any]) -> bool:
        """The severity changed: the new severity's cadence from the same start, unless the
        last update's author stated the time (a promise stands)."""
        if incident.update_stated:
            return False
        return self.expect_update(incident, incident.update_since or incident.opened_at,
                                  "severity", at, cause)

    def post_progress(self, id_or_ref: str, text: str, author: str, cause: dict[str, Any],
                      next_update_at: datetime | None = None,
                      next_update_in: timedelta | None = None) -> dict[str, Any]:
        """An update meets the update due and sets the next: at `next_update_at`, or
        `next_update_in` from now, else the cadence from now. The update says when the
        next is due, for those it reaches."""
        def command(incident: Incident, at: datetime) -> None:
            stated = at + next_update_in if next_update_in is not None else next_update_at
            check_stated(stated, at)
            due = self.update_due(incident, at, stated) if incident.cadence_running else None
            incident.post_progress(text, author, at, cause, next_update_by=due)
            self.expect_update(incident, at, "progress", at, cause, stated, actor=author)

        return self._change(id_or_ref, command)  # type: ignore[attr-defined]
