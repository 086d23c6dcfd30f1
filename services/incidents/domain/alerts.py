"""The alerts an incident groups: one more firing of its fingerprint joins it until service
is restored; each alert's clearing is noted once."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import FINISHED, IncidentCore, stored_as


class IncidentAlerts(IncidentCore):
    @property
    def accepts_alerts(self) -> bool:
        """Alerts join an incident until service is restored; a later firing is a new outage
        and must page someone again."""
        return self.resolved_at is None and self.status not in FINISHED

    def record_alert(self, alert: dict[str, Any], at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        if alert["alert_id"] not in self.alert_ids:
            self._attach_alert(alert=alert, at=at, actor=actor, cause=cause)

    @event("AlertAttached", topic=stored_as("AlertAttached"))
    def _attach_alert(self, alert: dict[str, Any], at: datetime, actor: str,
                      cause: dict[str, Any]) -> None:
        self.alert_ids.append(alert["alert_id"])

    def record_alert_cleared(self, alert_id: str, value: float | None, cleared_at: datetime,
                             at: datetime, actor: str, cause: dict[str, Any]) -> None:
        if alert_id in self.alert_ids and alert_id not in self.cleared_alert_ids:
            self._clear_alert(alert_id=alert_id, value=value, cleared_at=cleared_at,
                              at=at, actor=actor, cause=cause)
            # A self-fix's observation window starts once its alert is clear (closing.py).
            self.start_observation_if_clear(at, actor, cause)  # type: ignore[attr-defined]

    @event("AlertCleared", topic=stored_as("AlertCleared"))
    def _clear_alert(self, alert_id: str, value: float | None, cleared_at: datetime,
                     at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.cleared_alert_ids.append(alert_id)
