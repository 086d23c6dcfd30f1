"""Public, versioned events that cross NATS, each wrapped in a CloudEvents 1.0 envelope."""
from shared.contracts.envelope import CloudEvent, DEAD_LETTER_PREFIX
from shared.contracts.events import (
    AlertAcknowledged, AlertRaised, AlertResolved, CapaActionAdded, CapaActionCompleted, CapaActionVerified,
    CapaClosed, CapaEffectivenessChecked, CapaEffectivenessFailed, CapaEffectivenessStarted,
    CapaOpened, CapaRecurred, CapaRootCauseRecorded, CapaSystemicProblemRaised, Contract,
    EscalationTriggered, IncidentStaffed, IncidentAcknowledged, IncidentClosed, IncidentOpened,
    IncidentPageRead, IncidentResolved, IncidentRoleAssigned, IncidentSlaBreached, IncidentSlaAtRisk, IncidentSlaPaused, IncidentSlaResumed,
    IncidentSeverityChanged,
    IncidentReopened, IncidentProgressPosted, IncidentFollowed, IncidentUnfollowed, IncidentStageEntered, NotificationDelivered, NotificationFailed,
    NotificationsHeld, NotificationsReleased, contract_for_type, IncidentCapaRequested,
    IncidentDrillFlagged, IncidentProgressDue,
    IncidentHandedOver, SupportTierEntered,
    IncidentChecklistAttached, IncidentChecklistItemChecked,
    MetricSilent, MetricResumed, CapaEffectivenessHeldOpen, CapaEffectivenessExtended,
    CapaSystemicProblemClosed, RuleNearMiss,
    CONTRACTS,
)

__all__ = [
    "CloudEvent", "DEAD_LETTER_PREFIX", "Contract", "CONTRACTS", "contract_for_type",
    "AlertRaised", "AlertResolved", "AlertAcknowledged", "IncidentOpened", "IncidentAcknowledged",
    "IncidentResolved", "IncidentSlaBreached", "IncidentSlaAtRisk", "IncidentSlaPaused", "IncidentSlaResumed", "IncidentStageEntered", "IncidentRoleAssigned", "IncidentPageRead", "IncidentClosed", "NotificationDelivered", "NotificationFailed",
    "EscalationTriggered", "IncidentStaffed", "NotificationsHeld", "NotificationsReleased", "CapaOpened", "CapaRootCauseRecorded", "CapaActionAdded",
    "CapaActionCompleted", "CapaActionVerified", "CapaClosed", "IncidentSeverityChanged",
    "IncidentReopened", "IncidentProgressPosted", "IncidentFollowed", "IncidentUnfollowed",
    "CapaEffectivenessStarted", "CapaEffectivenessFailed", "CapaEffectivenessChecked",
    "CapaRecurred", "CapaSystemicProblemRaised", "IncidentCapaRequested", "IncidentDrillFlagged",
    "IncidentHandedOver", "SupportTierEntered", "IncidentProgressDue",
    "IncidentChecklistAttached", "IncidentChecklistItemChecked",
    "MetricSilent", "MetricResumed", "CapaEffectivenessHeldOpen", "CapaEffectivenessExtended",
    "CapaSystemicProblemClosed", "RuleNearMiss",
]
