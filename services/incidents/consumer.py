"""What the incidents service listens to: alerts from the detector, deliveries and
escalations from the notifier, the CAPA case's progress."""
from __future__ import annotations

from shared.bus.consumer import Subscription
from shared.contracts import (
    AlertAcknowledged, AlertRaised, AlertResolved, CapaActionAdded, CapaActionCompleted,
    CapaActionVerified,
    CapaClosed, CapaEffectivenessExtended, CapaEffectivenessFailed, CapaEffectivenessHeldOpen,
    CapaEffectivenessStarted, CapaOpened,
    CapaRecurred, CapaRootCauseRecorded,
    EscalationTriggered, IncidentStaffed, NotificationDelivered, NotificationFailed,
    NotificationsHeld, NotificationsReleased, SupportTierEntered,
)

from services.incidents.app import IncidentsApplication


def subscriptions(app: IncidentsApplication) -> list[Subscription]:
    return [
        Subscription(stream="DETECTOR", handlers={
            AlertRaised: app.handle_alert_raised,
            AlertResolved: app.handle_alert_resolved,
            AlertAcknowledged: app.handle_alert_acknowledged,
        }, read_ahead=app.read_ahead_alerts),
        Subscription(stream="NOTIFIER", handlers={
            NotificationDelivered: app.handle_notification_delivered,
            NotificationFailed: app.handle_notification_failed,
            EscalationTriggered: app.handle_escalation_triggered,
            IncidentStaffed: app.handle_incident_staffed,
            NotificationsHeld: app.handle_notifications_held,
            NotificationsReleased: app.handle_notifications_released,
            SupportTierEntered: app.handle_support_tier_entered,
        }, read_ahead=app.read_ahead_incidents),
        Subscription(stream="CAPA", handlers={
            CapaOpened: app.handle_capa_opened,
            CapaRootCauseRecorded: app.handle_capa_root_cause_recorded,
            CapaActionAdded: app.handle_capa_action_added,
            CapaActionCompleted: app.handle_capa_action_completed,
            CapaActionVerified: app.handle_capa_action_verified,
            CapaEffectivenessStarted: app.handle_capa_effectiveness_started,
            CapaEffectivenessFailed: app.handle_capa_effectiveness_failed,
            CapaEffectivenessHeldOpen: app.handle_capa_effectiveness_held_open,
            CapaEffectivenessExtended: app.handle_capa_effectiveness_extended,
            CapaClosed: app.handle_capa_closed,
            CapaRecurred: app.handle_capa_recurred,
        }, read_ahead=app.read_ahead_incidents),
    ]
