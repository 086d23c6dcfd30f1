"""HTTP routes under /v1/incidents: list from the read model; detail, timeline and the
people's commands (acknowledge, resolve, archive) through the event-sourced application."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from shared.auth import Role, acting_as, caller, require
from shared.http import Offset, request_cause, runtime_of

from services.incidents.app import IncidentsApplication
from services.incidents.board_filters import (
    FROM, Params, ViewFilters, after_cursor, encode_cursor, known_params_only, view_filters,
)
from services.incidents.board_queries import (
    FEW_IDS, ORDER, clause, conditions, planned_per_query,
)
from services.incidents.domain import Severity, Status
from services.incidents.sla_views import AT_RISK
from services.incidents.schemas import (
    IncidentAcknowledge, IncidentPage, IncidentRead, IncidentResolve, IncidentSummary, RoleAssign,
    TimelineEntry,
)

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
MAX_PAGE = 500
viewer = [Depends(require(Role.VIEWER))]


def _app(request: Request) -> IncidentsApplication:
    return runtime_of(request).application


@router.get("", dependencies=[*viewer, Depends(known_params_only)], response_model=IncidentPage)
async def list_incidents(
    request: Request,
    status: Status | None = None,
    severity: Severity | None = None,
    breached: bool | None = Query(None, description="only incidents that missed (or met) an SLA"),
    at_risk: bool | None = Query(None, description="only incidents with a deadline warned at "
                                 "risk that still runs (or none)"),
    responsible: str | None = Query(None, description="only incidents this person is responsible for"),
    drill: bool | None = Query(None, description="only drills (true) or only real incidents (false)"),
    filters: ViewFilters = Depends(view_filters),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
    offset: Offset = 0,
    cursor: str | None = Query(None, max_length=500, description="the next_cursor of the "
                               "previous page (instead of offset)"),
) -> IncidentPage:
    """Newest first, from the `incidents` read model (it may trail a save by milliseconds);
    the board's filters (board_filters.py) apply here too."""
    def where(p: Params, few: bool = False) -> list[str]:
        found = conditions(filters, p, now, few, status=status, severity=severity,
                           responsible=responsible)
        if drill is not None:
            found.append(f"i.drill = {p(drill)}")
        if breached is not None:
            found.append("(i.respond_breached OR i.resolve_breached OR i.close_breached) = "
                         f"{p(breached)}")
        if at_risk is not None:
            found.append(f"{AT_RISK} = {p(at_risk)}")
        return found

    now, counted = runtime_of(request).clock.now(), Params()
    async with runtime_of(request).pool.acquire() as conn, planned_per_query(conn):
        total = await conn.fetchval(f"SELECT count(*) FROM {FROM} {clause(where(counted))}",
                                    *counted.values)
        p = Params()
        page = clause([*where(p, total <= FEW_IDS), *after_cursor(cursor, p)])
        rows = await conn.fetch(
            f"SELECT i.*, {AT_RISK} AS at_risk FROM {FROM} {page} {ORDER} "
            f"LIMIT {p(limit)} OFFSET {p(0 if cursor else offset)}", *p.values)
    items = [IncidentSummary(**{**dict(row), "id": str(row["id"])}) for row in rows]
    last = rows[-1] if len(rows) == limit else None
    return IncidentPage(items=items, total=total, next_cursor=encode_cursor(
        last["opened_at"], last["ref"]) if last else None)


@router.get("/{id_or_ref}", dependencies=viewer, response_model=IncidentRead)
def get_incident(id_or_ref: str, request: Request) -> dict[str, Any]:
    """By uuid or by ref (P0-2026-11-001), with the whole timeline."""
    return _app(request).incident(id_or_ref)


@router.get("/{id_or_ref}/timeline", dependencies=viewer, response_model=list[TimelineEntry])
def get_timeline(id_or_ref: str, request: Request) -> list[dict[str, Any]]:
    return _app(request).timeline(id_or_ref)


@router.post("/{id_or_ref}/acknowledge", response_model=IncidentRead,
             dependencies=[Depends(require(Role.RESPONDER))])
def acknowledge(id_or_ref: str, body: IncidentAcknowledge, request: Request) -> dict[str, Any]:
    """Someone takes the incident on: 新建 → 调查中; stops the escalation ladder."""
    return _app(request).acknowledge(id_or_ref, acting_as(request, body.by), body.note,
                                     request_cause(request))


@router.post("/{id_or_ref}/resolve", response_model=IncidentRead,
             dependencies=[Depends(require(Role.RESPONDER))])
def resolve(id_or_ref: str, body: IncidentResolve, request: Request) -> dict[str, Any]:
    """Containment done, service restored: → 方案制定中, where the CAPA case takes over."""
    return _app(request).resolve(id_or_ref, acting_as(request, body.by), body.summary,
                                 request_cause(request), str(body.verdict))


@router.post("/{id_or_ref}/roles", response_model=IncidentRead,
             dependencies=[Depends(require(Role.RESPONDER))])
def assign_role(id_or_ref: str, body: RoleAssign, request: Request) -> dict[str, Any]:
    """RACI: one person responsible and one accountable (a new one replaces the old), any
    number consulted and informed. Whoever acknowledges is responsible until someone else is."""
    return _app(request).assign(id_or_ref, str(body.role), body.person,
                                acting_as(request, body.by), request_cause(request))


@router.post("/{id_or_ref}/archive", response_model=IncidentRead,
             dependencies=[Depends(require(Role.MANAGER))])
def archive(id_or_ref: str, request: Request) -> dict[str, Any]:
    """Only a closed (已闭环) incident can be archived."""
    return _app(request).archive(id_or_ref, caller(request), request_cause(request))
