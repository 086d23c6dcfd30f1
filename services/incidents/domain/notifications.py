"""What the notifier reports about an incident: deliveries, failures and escalations.
Facts from other services are recorded, never refused (refusing cannot undo them), and each
once, so a re-sent message stores nothing new."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import IncidentCore, stored_as

# The notifier's reminder after an acknowledgement was left unresolved too long.
RETRIGGER = "escalation.retrigger"


class IncidentNotifications(IncidentCore):
    def record_notification(self, outcome: str, notification: dict[str, Any], at: datetime,
                            actor: str, cause: dict[str, Any]) -> None:
        key = f"{outcome}:{notification['notification_id']}"
        if key in self.notification_keys:
            return
        record = self._notified if outcome == "delivered" else self._notification_failed
        record(notification=notification, at=at, actor=actor, cause=cause)

    @event("NotificationDelivered", topic=stored_as("NotificationDelivered"))
    def _notified(self, notification: dict[str, Any], at: datetime, actor: str,
                  cause: dict[str, Any]) -> None:
        self.notification_keys.append(f"delivered:{notification['notification_id']}")

    @event("NotificationFailed", topic=stored_as("NotificationFailed"))
    def _notification_failed(self, notification: dict[str, Any], at: datetime, actor: str,
                             cause: dict[str, Any]) -> None:
        self.notification_keys.append(f"failed:{notification['notification_id']}")

    def record_escalation(self, step: int, channel_ids: list[str], waited_seconds: float,
                          at: datetime, actor: str, cause: dict[str, Any],
                          channel_names: list[str] | None = None, reason: str | None = None,
                          people: list[str] | None = None,
                          unresolved: list[str] | None = None) -> None:
        reason = reason or f"escalation.step{step}"
        if reason not in self.escalation_reasons:
            self._escalate(step=step, channel_ids=channel_ids, waited_seconds=waited_seconds,
                           at=at, actor=actor, cause=cause, channel_names=channel_names or [],
                           reason=reason, people=people or [], unresolved=unresolved or [])

    @event("Escalated", topic=stored_as("Escalated"))
    def _escalate(self, step: int, channel_ids: list[str], waited_seconds: float, at: datetime,
                  actor: str, cause: dict[str, Any], channel_names: tuple[str, ...] = (),
                  reason: str | None = None, people: tuple[str, ...] = (),
                  unresolved: tuple[str, ...] = ()) -> None:
        self.escalation_steps.append(step)
        self.escalation_reasons.append(reason or f"escalation.step{step}")
        if (reason or "").startswith(RETRIGGER):
            self.ack_lapsed = True
