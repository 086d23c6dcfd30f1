"""Private domain events → public contracts. Everything not listed here stays private."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.notifier.domain import Delivery, Escalation
from services.notifier.raci.staffing import Staffing
from shared.bus.relay import translator
from shared.contracts import (
    Contract, EscalationTriggered, IncidentStaffed, NotificationDelivered, NotificationFailed,
)


def _delivered(event: Any) -> NotificationDelivered:
    return NotificationDelivered(
        notification_id=event.notification_id, incident_id=event.incident_id, ref=event.ref,
        channel_id=event.channel_id, channel_name=event.channel_name, reason=event.reason,
        attempts=event.attempt, status_code=event.status_code, at=event.at)


def _failed(event: Any) -> NotificationFailed:
    return NotificationFailed(
        notification_id=event.notification_id, incident_id=event.incident_id, ref=event.ref,
        channel_id=event.channel_id, channel_name=event.channel_name, reason=event.reason,
        attempts=event.attempts, error=event.error, at=event.at)


def _escalated(event: Any) -> EscalationTriggered:
    return EscalationTriggered(
        incident_id=event.incident_id, ref=event.ref, step=event.step,
        channel_ids=list(event.channel_ids), waited_seconds=event.waited_seconds, at=event.at,
        channel_names=list(event.channel_names), reason=getattr(event, "reason", ""),
        round=getattr(event, "round", 0),
        people=list(dict.fromkeys(t["person"] for t in getattr(event, "told", ())
                                  if "person" in t)),
        unresolved=list(getattr(event, "unresolved", ())))


def _staffed(event: Any) -> IncidentStaffed:
    return IncidentStaffed(
        incident_id=event.incident_id, ref=event.ref, severity=event.severity,
        responsible=list(event.responsible), accountable=list(event.accountable),
        consulted=list(event.consulted), informed=list(event.informed),
        unresolved=list(event.unresolved), at=event.at)


TRANSLATIONS: dict[type, Callable[[Any], Contract]] = {
    Delivery.Delivered: _delivered,
    Delivery.Failed: _failed,
    Escalation.Escalated: _escalated,
    Escalation.Retriggered: _escalated,
    Staffing.Staffed: _staffed,
}

to_contract = translator(TRANSLATIONS)
