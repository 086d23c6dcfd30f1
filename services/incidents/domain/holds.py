"""The notifier holds an incident's notifications (a silence, maintenance window, inhibition
or trial mode) and later releases them: each recorded once, like every fact it reports."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import IncidentCore, stored_as


class IncidentHolds(IncidentCore):
    def record_hold(self, hold: dict[str, Any], at: datetime, actor: str,
                    cause: dict[str, Any]) -> None:
        """The notifier holds this incident's notifications (`hold`: kind, hold_id, name,
        until, source_ref, at as NotificationsHeld says), or, for trial, never sends them."""
        if _hold_key(hold) not in self.notification_keys:
            self._notifications_held(hold=hold, at=at, actor=actor, cause=cause)

    @event("NotificationsHeld", topic=stored_as("NotificationsHeld"))
    def _notifications_held(self, hold: dict[str, Any], at: datetime, actor: str,
                            cause: dict[str, Any]) -> None:
        self.notification_keys.append(_hold_key(hold))

    def record_release(self, release: dict[str, Any], at: datetime, actor: str,
                       cause: dict[str, Any]) -> None:
        """What held the notifications ended while the incident was open: people are told
        from now on. Once per incident."""
        if "released" not in self.notification_keys:
            self._notifications_released(release=release, at=at, actor=actor, cause=cause)

    @event("NotificationsReleased", topic=stored_as("NotificationsReleased"))
    def _notifications_released(self, release: dict[str, Any], at: datetime, actor: str,
                                cause: dict[str, Any]) -> None:
        self.notification_keys.append("released")


def _hold_key(hold: dict[str, Any]) -> str:
    """A hold is new when its reason or its end changes (a silence extended holds again)."""
    return f"held:{hold['kind']}:{hold.get('hold_id')}:{hold.get('until')}"
