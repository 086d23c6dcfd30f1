"""Private domain events → public contracts. Everything not listed here stays private."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.notifier.domain import Delivery, Escalation
from services.notifier.holds.opening import Opening
from services.notifier.raci.staffing import Staffing
from services.notifier.support.ticket import SupportTicket
from shared.bus.relay import translator
from shared.contracts import (
    Contract, EscalationTriggered, IncidentStaffed, NotificationDelivered, NotificationFailed,
    NotificationsHeld, NotificationsReleased, SupportTierEntered,
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


def _staffed(event: Any) -> IncidentStaffed | None:
    """At the opening, and again when a severity change re-staffs it (the incidents service
    takes the first it hears). Nothing while nobody but people named by hand staff it."""
    if not getattr(event, "matrix", True):
        return None
    return IncidentStaffed(
        incident_id=event.incident_id, ref=event.ref, severity=event.severity,
        responsible=list(event.responsible), accountable=list(event.accountable),
        consulted=list(event.consulted), informed=list(event.informed),
        unresolved=list(event.unresolved), at=event.at,
        unit_path=list(getattr(event, "unit_path", None) or []))


def _held(event: Any) -> NotificationsHeld | None:
    hold = event.hold
    if hold is None:  # told at once: the deliveries say the rest
        return None
    incident_id, ref = ((event.incident["incident_id"], event.incident["ref"])
                        if hasattr(event, "incident") else (event.incident_id, event.ref))
    return NotificationsHeld(
        incident_id=incident_id, ref=ref, kind=hold["kind"], hold_id=hold.get("id"),
        name=hold.get("name") or "", until=hold.get("until"), source_ref=hold.get("source_ref"),
        at=event.at)


def _released(event: Any) -> NotificationsReleased:
    hold = event.hold
    return NotificationsReleased(
        incident_id=event.incident_id, ref=event.ref, kind=hold["kind"], hold_id=hold.get("id"),
        name=hold.get("name") or "", held_seconds=event.held_seconds,
        policies=list(event.policies), at=event.at)


TRANSLATIONS: dict[type, Callable[[Any], Contract | None]] = {
    Delivery.Delivered: _delivered,
    Delivery.Failed: _failed,
    Escalation.Escalated: _escalated,
    Escalation.Retriggered: _escalated,
    Escalation.Held: _held,  # a silence or window that began while the ladder climbed
    Staffing.Staffed: _staffed,
    Staffing.Restaffed: _staffed,
    Opening.Recorded: _held,
    Opening.Rechecked: _held,
    Opening.Released: _released,
    SupportTicket.TierEntered: lambda e: SupportTierEntered(
        incident_id=e.incident_id, ref=e.ref, tier=e.tier, group=e.group, team=e.team,
        why=e.why, responsible=e.responsible, on_call=list(e.on_call),
        problem_type=e.problem_type, next_tier=e.next_tier, due_at=e.due_at, at=e.at),
}

to_contract = translator(TRANSLATIONS)
