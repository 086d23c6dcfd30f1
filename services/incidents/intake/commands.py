"""The intake command mixed into IncidentsApplication: correct a classification."""
from __future__ import annotations

from typing import Any

from services.incidents.domain import Severity


class IntakeCommands:
    """Needs the application's _change."""

    def correct_classification(self, id_or_ref: str, problem_type: str | None,
                               severity: Severity | None, reason: str, by: str,
                               cause: dict[str, Any]) -> dict[str, Any]:
        return self._change(id_or_ref, lambda i, at: i.correct_classification(  # type: ignore[attr-defined]
            problem_type, severity, reason, by, at, cause))
