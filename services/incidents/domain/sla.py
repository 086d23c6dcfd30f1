"""The SLA clocks: the respond and resolve deadlines a severity sets, each recorded as
missed at most once."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import FINISHED, IncidentCore, stored_as


class IncidentSla(IncidentCore):
    def record_sla_breach(self, kind: str, at: datetime, actor: str,
                          cause: dict[str, Any]) -> bool:
        """Once per deadline: `respond` when nobody acknowledged by respond_by, `resolve` when
        service was not restored by resolve_by. False when there is nothing to record."""
        deadline, met = ((self.respond_by, self.acknowledged_at) if kind == "respond"
                         else (self.resolve_by, self.resolved_at))
        if kind in self.sla_breaches or met is not None or at < deadline \
                or self.status in FINISHED:
            return False
        self._sla_breached(kind=kind, deadline=deadline, severity=str(self.severity),
                           ref=self.ref, at=at, actor=actor, cause=cause)
        return True

    @event("SlaBreached", topic=stored_as("SlaBreached"))
    def _sla_breached(self, kind: str, deadline: datetime, severity: str, ref: str,
                      at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.sla_breaches.append(kind)
