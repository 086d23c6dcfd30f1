"""The chase of a late stage, fired by the chase_due worker: the due phase of one deadline
resolves whom it tells now (the Responsible, the Accountable, or the holders one level up)
and schedules their messages in the same save as the phase, which fires once."""
from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.notifier.config_cache import Routing
from services.notifier.directory.chart import OrgChart
from services.notifier.raci.deadline import Deadline, Phase
from services.notifier.raci.reach import Why, one_level_up, reach, unreachable
from services.notifier.raci.staffing import Staffing
from services.notifier.recipients import Recipient
from services.notifier.support.commands import TIER_KIND
from shared.causation import from_timer
from shared.errors import NotFound

CHASE_WORKER = "notifier.chase_due"
OWNED = "action:"  # a CAPA action's due date: its Responsible is the action's owner
# A missed progress update is the Responsible's to post: they hear of it with the
# Accountable (docs/progress-cadence.md).
BOTH_AT_DEADLINE = ("progress",)


class DeadlineNotFound(NotFound):
    pass


class Chasing:
    """Mixed into NotifierApplication through RaciCommands."""

    def chase(self, deadline_id: UUID, at: datetime) -> list[str]:
        """Fire the deadline's due phase (refused when met, done or not due). Returns the
        new delivery ids."""
        deadline = self.get_or_none(deadline_id)
        if not isinstance(deadline, Deadline):
            raise DeadlineNotFound(f"deadline {deadline_id} does not exist")
        cause = {**from_timer(CHASE_WORKER), "correlation_id": deadline.correlation_id}
        phase = deadline.due_phase(at)
        if deadline.kind == TIER_KIND and phase is Phase.DEADLINE:  # the next tier takes over
            return self.tier_time_box_ran_out(deadline, at, cause)
        reason, chart = deadline.reason(phase), self.org_chart()
        staffing = self.get_or_none(Staffing.create_id(deadline.incident_id))
        handles, why, unresolved = chased_people(
            deadline, phase, chart, staffing if isinstance(staffing, Staffing) else None)

        def told(routing: Routing) -> list[Recipient]:
            return reach(handles, why, chart, routing)

        routing, existing = self.config_cache.current(
            also=lambda r: [x.delivery_id(deadline.incident_id, reason, deadline.occasion)
                            for x in told(r)])
        recipients = told(routing)
        deadline.chase([x.told() for x in recipients],
                       [*unresolved, *unreachable(handles, recipients)], at, CHASE_WORKER, cause)
        incident = deadline.incident  # named with its severity now (re-staffed on a change)
        if isinstance(staffing, Staffing):
            incident = {**incident, "severity": staffing.severity}
        deliveries = self._schedule(
            incident, recipients, reason, at, at, CHASE_WORKER, cause, existing,
            occasion=deadline.occasion,
            about={"deadline": deadline.kind, "subject": deadline.subject, "phase": str(phase),
                   "due_at": deadline.due_at.isoformat(),
                   "since": deadline.started_at.isoformat(),
                   "responsible": list(deadline.responsible)})
        self._claim_at_once(deliveries, routing, at)
        self.save(deadline, *deliveries)
        return [str(d.id) for d in deliveries]


def chased_people(deadline: Deadline, phase: Phase, chart: OrgChart,
                  staffing: Staffing | None = None) -> tuple[list[str], Why, list[str]]:
    """Handles told in this phase, what chose them, and what could not be found. The
    incident's people as they are now (someone reassigned by hand is chased, not who the
    matrix named at opening, the new severity's after a change, and one level up from where
    its Accountable's role is held); a CAPA deadline's Responsible stays the action's owner."""
    responsible, accountable = deadline.responsible, deadline.accountable
    if staffing is not None:
        accountable = staffing.accountable
        if not deadline.key.startswith(OWNED):
            responsible = staffing.responsible
    if phase is Phase.WARNING:
        return responsible, Why("raci", "responsible"), (
            [] if responsible else ["responsible: nobody named"])
    if phase is Phase.DEADLINE and deadline.kind in BOTH_AT_DEADLINE:
        return list(dict.fromkeys([*responsible, *accountable])), Why(
            "raci", "responsible+accountable"), (
            [] if accountable else ["accountable: nobody named"])
    if phase is Phase.DEADLINE:
        return accountable, Why("raci", "accountable"), (
            [] if accountable else ["accountable: nobody named"])
    unit = chart.unit_for(deadline.incident["entity"])
    accountable_at = (staffing.accountable_at if staffing is not None and staffing.matrix
                      else deadline.accountable_at)
    up = one_level_up(chart, accountable_at, deadline.up_roles,
                      unit["key"] if unit else None)
    return up.handles, Why("up", f"{up.role}@{up.unit}"), (
        [f"up: {up.why_not}"] if up.why_not else [])
