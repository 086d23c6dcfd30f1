"""Plain-data views of the RACI rules and of an incident's staffing."""
from __future__ import annotations

from typing import Any

from services.notifier.raci.rules import DEFAULT_DEADLINES, RaciRules
from services.notifier.raci.staffing import Staffing


def rules_view(rules: RaciRules | None) -> dict[str, Any]:
    if rules is None:  # nothing defined: no incident is staffed by a matrix
        return {"matrix": {}, "deadlines": dict(DEFAULT_DEADLINES), "updated_at": None,
                "updated_by": None}
    return {"matrix": rules.matrix, "deadlines": rules.deadlines,
            "updated_at": rules.updated_at, "updated_by": rules.updated_by}


def staffing_view(staffing: Staffing) -> dict[str, Any]:
    incident = {k: v for k, v in staffing.incident.items() if k != "facts"}
    return {**incident, "unit": staffing.unit,
            "responsible": staffing.responsible, "accountable": staffing.accountable,
            "consulted": staffing.consulted, "informed": staffing.informed,
            "unresolved": staffing.unresolved, "accountable_at": staffing.accountable_at,
            "staffed_at": staffing.staffed_at, "matrix": staffing.matrix,
            "by_hand": dict(staffing.hand)}
