"""HTTP routes for triage under /v1/incidents: the alerts an incident holds (its group's, or
those a storm gathered)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from shared.auth import Role, require
from shared.http import runtime_of

from services.incidents.triage_schemas import IncidentAlert

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


@router.get("/{id_or_ref}/alerts", dependencies=[Depends(require(Role.VIEWER))],
            response_model=list[IncidentAlert])
def incident_alerts(id_or_ref: str, request: Request) -> list[dict[str, Any]]:
    """In the order they came, each with its entity, severity and when it cleared."""
    return runtime_of(request).application.incident_alerts(id_or_ref)
