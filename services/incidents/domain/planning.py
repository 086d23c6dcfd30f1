"""The planned closure (预计闭环时间) a responder commits to on the board. Until someone sets
one the board shows the SLA policy's target (the board's read model works that out); a set
plan replaces it and can be moved again, each move on the timeline with who and why."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from shared.errors import Invalid

from services.incidents.domain.core import IncidentCore


class IncidentPlanning(IncidentCore):
    planned_close_at = None  # class default: no plan set by hand (events before it existed)

    def plan_closure(self, close_at: datetime, note: str, by: str, at: datetime,
                     cause: dict[str, Any]) -> None:
        self.check_not_finished("take a planned closure")
        opened_at: datetime = self.opened_at  # type: ignore[attr-defined]
        if close_at <= opened_at:
            raise Invalid("planned_close_at", f"{close_at.isoformat()} is not after the "
                          f"incident opened ({opened_at.isoformat()}); send a later time")
        self._closure_planned(ref=self.ref, planned_close_at=close_at,  # type: ignore[attr-defined]
                              previous=self.planned_close_at, note=note.strip(), by=by, at=at,
                              actor=by, cause=cause)

    @event("ClosurePlanned")
    def _closure_planned(self, ref: str, planned_close_at: datetime, previous: datetime | None,
                         note: str, by: str, at: datetime, actor: str,
                         cause: dict[str, Any]) -> None:
        self.planned_close_at = planned_close_at
