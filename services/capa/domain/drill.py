"""A case whose incident is a drill (演练): it runs like any case, so the drill exercises
the whole loop, but no KPI counts it (docs/adr/closing-paths.md). Known at opening
(IncidentResolved.drill) or later (IncidentDrillFlagged)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event


class DrillCase(Aggregate):
    # A plain class attribute (no annotation, which would become an event field): cases
    # opened before drills existed, or without the flag, read as real ones.
    drill = False

    def mark_drill(self, reason: str, at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        """False when it is known to be a drill already."""
        if self.drill:
            return False
        self._marked_drill(reason=reason, at=at, actor=actor, cause=cause)
        return True

    @event("MarkedDrill")
    def _marked_drill(self, reason: str, at: datetime, actor: str,
                      cause: dict[str, Any]) -> None:
        self.drill = True
