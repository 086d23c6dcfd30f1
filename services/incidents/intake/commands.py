"""The intake command mixed into IncidentsApplication: correct a classification."""
from __future__ import annotations

from typing import Any

from services.incidents.domain import Incident, Severity


class IntakeCommands:
    """Needs the application's _change, sla_clocks and recadence."""

    def correct_classification(self, id_or_ref: str, problem_type: str | None,
                               severity: Severity | None, reason: str, by: str,
                               cause: dict[str, Any], manager: bool = True) -> dict[str, Any]:
        """`manager`: whether the caller may lower the severity (as on /severity). A new
        severity gets its policy's deadlines from the opening, for the corrected type."""
        def command(incident: Incident, at: Any) -> None:
            regraded = severity is not None and severity != incident.severity
            clocks = self.sla_clocks(  # type: ignore[attr-defined]
                severity, problem_type or incident.sla_type, incident.opened_at
            ) if regraded else None
            incident.correct_classification(problem_type, severity, reason, by, at, cause,
                                            manager=manager, clocks=clocks)
            if regraded:
                self.recadence(incident, at, cause)  # type: ignore[attr-defined]

        return self._change(id_or_ref, command)  # type: ignore[attr-defined]
