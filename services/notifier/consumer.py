"""What the notifier listens to: the incidents' lifecycle, and the CAPA case's actions (their
deadlines are chased) and the systemic problems it raises (reported one level up)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.notifier.app import NotifierApplication
from services.notifier.holds.opening import Opening
from services.notifier.raci.deadline import deadline_id
from services.notifier.raci.lifecycle import CurrentSeverity
from services.notifier.raci.progress import KEY as PROGRESS
from services.notifier.raci.rules import RACI_RULES_ID
from services.notifier.raci.staffing import Staffing
from services.notifier.support.desk import SUPPORT_DESK_ID
from shared.bus.consumer import Subscription
from shared.contracts import (
    CapaActionAdded, CapaActionCompleted, CapaActionVerified, CapaSystemicProblemClosed,
    CapaSystemicProblemRaised,
    IncidentAcknowledged, IncidentChecklistAttached, IncidentChecklistItemChecked,
    IncidentClosed, IncidentFollowed, IncidentOpened, IncidentProgressPosted, IncidentReopened,
    IncidentResolved, IncidentRoleAssigned, IncidentSeverityChanged, IncidentStageEntered,
    IncidentSlaAtRisk, IncidentSlaPaused, IncidentSlaResumed, IncidentUnfollowed, IncidentHandedOver,
    IncidentProgressDue,
)


def subscriptions(app: NotifierApplication) -> list[Subscription]:
    return [Subscription(stream="INCIDENTS", handlers={
        IncidentOpened: app.handle_incident_opened,
        IncidentAcknowledged: app.handle_incident_acknowledged,
        IncidentResolved: app.handle_incident_resolved,
        IncidentClosed: app.handle_incident_closed,
        IncidentStageEntered: app.handle_incident_stage_entered,
        IncidentRoleAssigned: app.handle_incident_role_assigned,
        IncidentSeverityChanged: app.handle_incident_severity_changed,
        IncidentReopened: app.handle_incident_reopened,
        IncidentProgressPosted: app.handle_incident_progress_posted,
        IncidentProgressDue: app.handle_incident_progress_due,
        IncidentFollowed: app.handle_incident_followed,
        IncidentUnfollowed: app.handle_incident_unfollowed,
        IncidentSlaAtRisk: app.handle_incident_sla_at_risk,
        IncidentSlaPaused: app.handle_incident_sla_paused,
        IncidentSlaResumed: app.handle_incident_sla_resumed,
        IncidentHandedOver: app.handle_incident_handed_over,
        IncidentChecklistAttached: app.handle_incident_checklist_attached,
        IncidentChecklistItemChecked: app.handle_incident_checklist_item_checked,
    }, read_ahead=_read_ahead_incidents(app)), Subscription(stream="CAPA", handlers={
        CapaActionAdded: app.handle_capa_action_added,
        CapaActionCompleted: app.handle_capa_action_completed,
        CapaActionVerified: app.handle_capa_action_verified,
        CapaSystemicProblemRaised: app.handle_capa_systemic_problem_raised,
        CapaSystemicProblemClosed: app.handle_capa_systemic_problem_closed,
    })]


def _read_ahead_incidents(app: NotifierApplication) -> Callable[[list[Any]], None]:
    # What the lifecycle handlers of a batch read about each incident (its opening, staffing,
    # current severity and progress chase) and the RACI and support-desk settings, in one
    # query for the batch instead of one round trip each per message. None of these types is
    # snapshotted, so their events are all there is.
    def read_ahead(contracts: list[Any]) -> None:
        ids = [RACI_RULES_ID, SUPPORT_DESK_ID]
        for c in contracts:
            incident_id = getattr(c, "incident_id", "")
            if incident_id:
                ids += [Opening.create_id(incident_id), Staffing.create_id(incident_id),
                        CurrentSeverity.create_id(incident_id),
                        deadline_id(incident_id, PROGRESS)]
        app.read_ahead(ids, never_snapshotted=True)
    return read_ahead
