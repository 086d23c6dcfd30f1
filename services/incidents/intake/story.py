"""How a classification correction reads in the incident's timeline."""
from __future__ import annotations

from typing import Any

from services.incidents.domain import Incident


def _reclassified(e: Any, _: dict[str, Any]) -> str:
    changes = []
    if e.problem_type != e.previous_type:
        changes.append(f"problem type {e.previous_type or 'none'} → {e.problem_type}")
    if e.severity != e.previous_severity:
        changes.append(f"severity {e.previous_severity} → {e.severity}")
    return f"{e.by} corrected the classification ({', '.join(changes)}): {e.reason}"


INTAKE_STORY = {Incident.Reclassified: ("reclassified", _reclassified)}
