"""What the notifier listens to: the incidents' lifecycle, and the CAPA case's actions (their
deadlines are chased) and the systemic problems it raises (reported one level up)."""
from __future__ import annotations

from services.notifier.app import NotifierApplication
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
    }), Subscription(stream="CAPA", handlers={
        CapaActionAdded: app.handle_capa_action_added,
        CapaActionCompleted: app.handle_capa_action_completed,
        CapaActionVerified: app.handle_capa_action_verified,
        CapaSystemicProblemRaised: app.handle_capa_systemic_problem_raised,
        CapaSystemicProblemClosed: app.handle_capa_systemic_problem_closed,
    })]
