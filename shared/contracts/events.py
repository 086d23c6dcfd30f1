"""Every contract by its CloudEvent type, gathered from the modules of the services that
publish them."""
from __future__ import annotations

from shared.contracts.contract import Contract
from shared.contracts.alerts import (  # noqa: F401 (re-exported)
    AlertRaised, AlertResolved, AlertAcknowledged, MetricSilent, MetricResumed, RuleNearMiss,
)
from shared.contracts.incidents import (  # noqa: F401 (re-exported)
    IncidentOpened, IncidentAcknowledged, IncidentResolved, IncidentCapaRequested,
    IncidentDrillFlagged, IncidentStageEntered, IncidentRoleAssigned, IncidentHandedOver,
    IncidentSeverityChanged, IncidentReopened, IncidentProgressPosted, IncidentFollowed,
    IncidentUnfollowed, IncidentPageRead, IncidentClosed, IncidentProgressDue,
)
from shared.contracts.incident_sla import (  # noqa: F401 (re-exported)
    IncidentSlaBreached, IncidentSlaAtRisk, IncidentSlaPaused, IncidentSlaResumed,
)
from shared.contracts.incident_checklists import (  # noqa: F401 (re-exported)
    IncidentChecklistAttached, IncidentChecklistItemChecked,
)
from shared.contracts.notifications import (  # noqa: F401 (re-exported)
    SupportTierEntered, NotificationDelivered, NotificationFailed, EscalationTriggered,
    NotificationsHeld, NotificationsReleased, IncidentStaffed,
)
from shared.contracts.capa import (  # noqa: F401 (re-exported)
    CapaOpened, CapaRootCauseRecorded, CapaActionAdded, CapaActionCompleted, CapaActionVerified,
    CapaEffectivenessStarted, CapaEffectivenessFailed, CapaEffectivenessChecked, CapaClosed,
    CapaRecurred, CapaSystemicProblemRaised, CapaEffectivenessHeldOpen, CapaEffectivenessExtended,
    CapaSystemicProblemClosed,
)


CONTRACTS: dict[str, type[Contract]] = {
    c.type_name(): c
    for c in (
        AlertRaised, AlertResolved, AlertAcknowledged, MetricSilent, MetricResumed, RuleNearMiss,
        IncidentOpened, IncidentAcknowledged, IncidentResolved,
        IncidentSlaBreached, IncidentSlaAtRisk, IncidentSlaPaused, IncidentSlaResumed,
        IncidentStageEntered, IncidentRoleAssigned, IncidentClosed,
        IncidentSeverityChanged, IncidentReopened, IncidentProgressPosted, IncidentFollowed,
        IncidentUnfollowed, IncidentProgressDue,
        IncidentPageRead, IncidentCapaRequested, IncidentDrillFlagged,
        IncidentHandedOver, SupportTierEntered,
        IncidentChecklistAttached, IncidentChecklistItemChecked,
        NotificationDelivered, NotificationFailed, EscalationTriggered, IncidentStaffed,
        NotificationsHeld, NotificationsReleased, CapaOpened, CapaRootCauseRecorded,
        CapaActionAdded, CapaActionCompleted,
        CapaActionVerified, CapaClosed, CapaEffectivenessStarted, CapaEffectivenessFailed,
        CapaEffectivenessChecked, CapaRecurred, CapaSystemicProblemRaised,
        CapaEffectivenessHeldOpen, CapaEffectivenessExtended, CapaSystemicProblemClosed,
    )
}


def contract_for_type(type_name: str) -> type[Contract]:
    try:
        return CONTRACTS[type_name]
    except KeyError:
        raise ValueError(f"unknown event type {type_name!r}") from None
