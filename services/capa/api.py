"""HTTP routes of the capa service: read cases, record the root cause, manage actions."""
from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.capa.app import CapaApplication
from services.capa.domain import CapaNotFound, CaseStatus
from services.capa.postmortem import FORMATS, postmortem_facts, render
from services.capa.schemas import (
    ActionCompletion, ActionCreate, ActionRead, ActionVerification, CapaPage, CapaRead,
    EffectivenessCheck, RootCauseCreate,
)
from shared.auth import Role, acting_as, require
from shared.http import Offset, request_cause, runtime_of

router = APIRouter(prefix="/v1/capa", tags=["capa"])
responder = [Depends(require(Role.RESPONDER))]
viewer = [Depends(require(Role.VIEWER))]
# Verification is the point of closure: only a person may do it, never a service key.
verifier = [Depends(require(Role.RESPONDER, person_bound=True))]

FILTER = "WHERE ($1::text IS NULL OR incident_id = $1) AND ($2::text IS NULL OR status = $2)"
LIST = f"""
SELECT id, incident_id, ref, title, severity, entity, status, root_cause, actions_total,
       actions_verified, opened_at, closed_at, drill
FROM capa_cases {FILTER}
ORDER BY opened_at DESC, id
LIMIT $3 OFFSET $4"""
COUNT = f"SELECT count(*) FROM capa_cases {FILTER}"
# A case id or an incident ref (P0-2026-11-001): nothing else reaches the query or the
# Content-Disposition header.
CaseKey = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$",
                              description="the case id or the incident's ref")]


def _app(request: Request) -> CapaApplication:
    return runtime_of(request).application


@router.get("", dependencies=viewer, response_model=CapaPage,
            summary="List CAPA cases (read model)")
async def list_cases(request: Request, incident_id: str | None = None,
                     status: CaseStatus | None = None,
                     limit: int = Query(50, ge=1, le=500), offset: Offset = 0,
                     ) -> dict[str, Any]:
    where = (incident_id, status.value if status else None)
    async with runtime_of(request).pool.acquire() as conn:
        rows = await conn.fetch(LIST, *where, limit, offset)
        total = await conn.fetchval(COUNT, *where)
    return {"items": [dict(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/{capa_id}", dependencies=viewer, response_model=CapaRead,
            summary="One case: root cause, actions and its full history")
def get_case(capa_id: UUID, request: Request) -> dict[str, Any]:
    return _app(request).case(capa_id)


@router.post("/{capa_id}/root-cause", response_model=CapaRead, dependencies=responder,
             summary="Record or revise the root cause (5 whys or fishbone 人机料法环测)")
def record_root_cause(capa_id: UUID, body: RootCauseCreate, request: Request) -> dict[str, Any]:
    return _app(request).record_root_cause(
        capa_id, by=acting_as(request, body.by), cause=request_cause(request), method=body.method, statement=body.statement,
        whys=body.whys, category=body.category,
        contributing_factors=[f.model_dump(mode="json") for f in body.contributing_factors])


@router.post("/{capa_id}/actions", response_model=ActionRead, status_code=201,
             dependencies=responder, summary="Add a corrective or preventive action")
def add_action(capa_id: UUID, body: ActionCreate, request: Request,
               response: Response) -> dict[str, Any]:
    action = _app(request).add_action(
        capa_id, by=acting_as(request, body.by), cause=request_cause(request), kind=body.kind, title=body.title,
        owner=body.owner, due_date=body.due_date, acceptance_criteria=body.acceptance_criteria,
        adverse_implications=body.adverse_implications)
    response.headers["Location"] = f"/v1/capa/{capa_id}/actions/{action['id']}"
    return action


@router.get("/{capa_id}/actions/{action_id}", dependencies=viewer, response_model=ActionRead,
            summary="One action")
def get_action(capa_id: UUID, action_id: str, request: Request) -> dict[str, Any]:
    return _app(request).action(capa_id, action_id)


@router.post("/{capa_id}/actions/{action_id}/complete", response_model=CapaRead,
             summary="Complete an action with evidence (its owner, or a manager)")
def complete_action(capa_id: UUID, action_id: str, body: ActionCompletion, request: Request,
                    role: Role = Depends(require(Role.RESPONDER))) -> dict[str, Any]:
    return _app(request).complete_action(
        capa_id, action_id, by=acting_as(request, body.by), evidence=body.evidence,
        as_manager=role.rank >= Role.MANAGER.rank, cause=request_cause(request))


@router.post("/{capa_id}/actions/{action_id}/verify", response_model=CapaRead,
             dependencies=verifier,
             summary="Verify a completed action (not by its owner); ineffective reopens it")
def verify_action(capa_id: UUID, action_id: str, body: ActionVerification,
                  request: Request) -> dict[str, Any]:
    return _app(request).verify_action(
        capa_id, action_id, verifier=acting_as(request, body.verifier, "verifier", on_behalf=False), effective=body.effective, note=body.note,
        adverse_check=body.adverse_check, cause=request_cause(request))


@router.post("/{capa_id}/effectiveness-check", response_model=CapaRead, dependencies=verifier,
             summary="A manual incident's effectiveness check (not by an action owner); "
                     "closes the case")
def record_effectiveness_check(capa_id: UUID, body: EffectivenessCheck,
                               request: Request) -> dict[str, Any]:
    return _app(request).record_effectiveness_check(
        capa_id, verifier=acting_as(request, body.verifier, "verifier", on_behalf=False),
        text=body.text, evidence=body.evidence, cause=request_cause(request))


@router.get("/{case}/postmortem", dependencies=viewer, response_class=Response,
            summary="The case's postmortem: summary, impact, timeline, root cause, actions, "
                    "effectiveness, lessons (Markdown, HTML or PDF; zh or en)",
            responses={200: {"content": {media: {} for media in FORMATS.values()}}})
async def postmortem(case: CaseKey, request: Request,
                     format: Literal["md", "html", "pdf"] = "md",
                     lang: Literal["zh", "en"] = "en") -> Response:
    capa_id = await _case_id(request, case)
    app = _app(request)

    def document() -> bytes:  # reads the store and lays out pages: off the event loop
        read = app.case(capa_id)
        return render(postmortem_facts(read, app.incident_facts(read["incident_id"])),
                      format, lang)

    body = await asyncio.to_thread(document)
    disposition = "attachment" if format == "pdf" else "inline"
    return Response(body, media_type=FORMATS[format], headers={
        "Content-Disposition": f'{disposition}; filename="postmortem-{case}.{format}"',
        "Content-Language": lang})


async def _case_id(request: Request, case: str) -> UUID:
    """A case id, or the incident's ref (e.g. P0-2026-11-001) looked up in the read model."""
    try:
        return UUID(case)
    except ValueError:
        pass
    async with runtime_of(request).pool.acquire() as conn:
        found = await conn.fetchval("SELECT id FROM capa_cases WHERE ref = $1 "
                                    "ORDER BY opened_at DESC LIMIT 1", case)
    if found is None:
        raise CapaNotFound(f"no CAPA case has id or incident ref {case!r}: a case opens when "
                           "its incident is resolved")
    return found
