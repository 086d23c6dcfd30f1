"""HTTP routes of the RACI rules (managers define them, viewers read them), of an incident's
staffing, and of the deadlines being chased."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request

from services.notifier.api import app_of, manager, read_page, viewer
from services.notifier.raci.schemas import DeadlinePage, RaciRead, RaciSpec, StaffingRead
from shared.auth import caller
from shared.http import Offset, request_cause
from shared.limits import NAME

router = APIRouter(prefix="/v1")


@router.get("/raci", response_model=RaciRead, dependencies=viewer, tags=["raci"])
def get_raci(request: Request) -> dict:
    return app_of(request).raci_rules()


@router.put("/raci", response_model=RaciRead, dependencies=manager, tags=["raci"])
def put_raci(body: RaciSpec, request: Request) -> dict:
    """The whole matrix and deadline settings; incidents opened from now on follow them."""
    matrix, deadlines = body.as_rules()
    return app_of(request).define_raci(matrix=matrix, deadlines=deadlines,
                                       actor=caller(request), cause=request_cause(request))


@router.get("/staffings/{incident_id}", response_model=StaffingRead, dependencies=viewer,
            tags=["raci"])
def get_staffing(incident_id: str, request: Request) -> dict:
    """Whom the matrix named for the incident when it opened (or at its last severity
    change), with the letters given by hand since, read from the store."""
    return app_of(request).staffing_of(incident_id)


@router.get("/deadlines", response_model=DeadlinePage, dependencies=viewer, tags=["raci"])
async def list_deadlines(request: Request,
                         incident_id: str | None = Query(None, max_length=NAME),
                         status: str | None = Query(None, pattern="^(waiting|met|done)$"),
                         limit: int = Query(100, ge=1, le=1000), offset: Offset = 0) -> dict:
    found = await read_page(
        request, "deadlines",
        "($1::text IS NULL OR incident_id = $1) AND ($2::text IS NULL OR status = $2)",
        "due_at, key", (incident_id, status), limit, offset)
    for item in found["items"]:
        item["id"] = str(item["id"])
    return found
