"""Closing paths and drills, mixed into IncidentsApplication (domain/closing.py,
docs/adr/closing-paths.md): close by hand when a CAPA is optional, ask for a CAPA case all
the same, flag a drill, and — for the observation watch — close an incident whose window
ended clear."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.causation import from_timer

from services.incidents.domain import Incident

OBSERVATION_WATCH = "observation watch"


class ClosingCommands:
    """Needs the application's clock, _change and get_or_none."""

    def close_by_hand(self, id_or_ref: str, note: str, by: str,
                      cause: dict[str, Any]) -> dict[str, Any]:
        return self._change(id_or_ref,  # type: ignore[attr-defined]
                            lambda i, at: i.close_by_hand(note, by, at, cause))

    def request_capa(self, id_or_ref: str, reason: str, by: str,
                     cause: dict[str, Any]) -> dict[str, Any]:
        return self._change(id_or_ref,  # type: ignore[attr-defined]
                            lambda i, at: i.request_capa(reason, by, at, cause))

    def flag_drill(self, id_or_ref: str, reason: str, by: str,
                   cause: dict[str, Any]) -> dict[str, Any]:
        return self._change(id_or_ref,  # type: ignore[attr-defined]
                            lambda i, at: i.flag_drill(reason, by, at, cause))

    def close_after_observation(self, incident_id: UUID) -> None:
        """Called by the observation watch once the window's end has passed (the aggregate
        checks the window itself)."""
        incident = self.get_or_none(incident_id)  # type: ignore[attr-defined]
        if not isinstance(incident, Incident):
            return
        incident.close_after_observation(
            self.clock.now(), OBSERVATION_WATCH,  # type: ignore[attr-defined]
            from_timer("incidents.observation_watch"))
        self.save(incident)  # type: ignore[attr-defined]
