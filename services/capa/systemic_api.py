"""HTTP route of systemic problems: one signature recurring across the organisation, with
the cases it links (docs/adr/recurrence.md)."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from services.capa.domain import CapaNotFound
from services.capa.domain.recurrence import SystemicProblem
from services.capa.schemas import SystemicProblemRead
from shared.auth import Role, require
from shared.http import runtime_of

router = APIRouter(prefix="/v1/capa/systemic", tags=["capa"])


@router.get("/{systemic_id}", dependencies=[Depends(require(Role.VIEWER))],
            response_model=SystemicProblemRead,
            summary="One systemic problem: the rule, its recurrences and the linked cases")
def get_systemic_problem(systemic_id: UUID, request: Request) -> dict[str, Any]:
    problem = runtime_of(request).application.get_or_none(systemic_id)
    if not isinstance(problem, SystemicProblem):
        raise CapaNotFound(f"no systemic problem has id {systemic_id}")
    return {"id": problem.id, "signature": problem.signature, "rule": problem.rule,
            "summary": problem.summary, "threshold": problem.threshold,
            "period_seconds": problem.period_seconds, "raised_at": problem.raised_at,
            "entities": problem.entities, "capa_ids": problem.capa_ids,
            "recurrences": problem.recurrences}
