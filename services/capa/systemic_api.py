"""HTTP routes of systemic problems: one signature recurring across the organisation, with
the cases it links, analysed and closed as a case of its own (docs/adr/systemic-cases.md).
The request bodies are a CAPA case's."""
from __future__ import annotations

import asyncio
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from services.capa.domain import CaseStatus
from services.capa.postmortem import FORMATS, render
from services.capa.schemas import (
    ActionCompletion, ActionCreate, ActionVerification, EffectivenessCheck, RootCauseCreate,
    SystemicProblemPage, SystemicProblemRead,
)
from services.capa.systemic import SystemicProblems
from shared.auth import Role, acting_as, require
from shared.http import Offset, request_cause, runtime_of

router = APIRouter(prefix="/v1/systemic-problems", tags=["capa"])
legacy = APIRouter(prefix="/v1/capa/systemic", tags=["capa"])
viewer = [Depends(require(Role.VIEWER))]
responder = [Depends(require(Role.RESPONDER))]
verifier = [Depends(require(Role.RESPONDER, person_bound=True))]


LIST = """
SELECT id, signature, rule, summary, status, recurrences, entities, raised_at, closed_at
FROM capa_systemic_problems WHERE ($1::text IS NULL OR status = $1)
ORDER BY raised_at DESC, id LIMIT $2 OFFSET $3"""
COUNT = "SELECT count(*) FROM capa_systemic_problems WHERE ($1::text IS NULL OR status = $1)"


def _problems(request: Request) -> SystemicProblems:
    return SystemicProblems(runtime_of(request).application)


@router.get("", dependencies=viewer, response_model=SystemicProblemPage,
            summary="List systemic problems, newest first (read model)")
async def list_systemic_problems(request: Request, status: CaseStatus | None = None,
                                 limit: int = Query(50, ge=1, le=500),
                                 offset: Offset = 0) -> dict[str, Any]:
    where = status.value if status else None
    async with runtime_of(request).pool.acquire() as conn:
        rows = await conn.fetch(LIST, where, limit, offset)
        total = await conn.fetchval(COUNT, where)
    return {"items": [dict(r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.get("/{systemic_id}", dependencies=viewer, response_model=SystemicProblemRead,
            summary="One systemic problem: its recurrences, linked cases, analysis, closure")
@legacy.get("/{systemic_id}", dependencies=viewer, response_model=SystemicProblemRead,
            summary="One systemic problem (also at /v1/systemic-problems/{id})")
def get_systemic_problem(systemic_id: UUID, request: Request) -> dict[str, Any]:
    return _problems(request).get(systemic_id)


@router.get("/{systemic_id}/postmortem", dependencies=viewer, response_class=Response,
            summary="Its postmortem: summary, linked cases and entities, recurrences, "
                    "timeline, root cause, actions, effectiveness, lessons (md, html or pdf; "
                    "zh or en)",
            responses={200: {"content": {media: {} for media in FORMATS.values()}}})
@legacy.get("/{systemic_id}/postmortem", dependencies=viewer, response_class=Response,
            summary="Its postmortem (also at /v1/systemic-problems/{id}/postmortem)")
async def postmortem(systemic_id: UUID, request: Request,
                     format: Literal["md", "html", "pdf"] = "md",
                     lang: Literal["zh", "en"] = "en") -> Response:
    problems = _problems(request)

    def document() -> bytes:  # reads the store and lays out pages: off the event loop
        return render(problems.postmortem(systemic_id), format, lang, "systemic")

    body = await asyncio.to_thread(document)
    disposition = "attachment" if format == "pdf" else "inline"
    return Response(body, media_type=FORMATS[format], headers={
        "Content-Disposition": f'{disposition}; filename="postmortem-systemic-{systemic_id}.'
                               f'{format}"', "Content-Language": lang})


@router.post("/{systemic_id}/root-cause", dependencies=responder,
             response_model=SystemicProblemRead,
             summary="Record or revise its root cause (5 whys or fishbone 人机料法环测)")
def record_root_cause(systemic_id: UUID, body: RootCauseCreate,
                      request: Request) -> dict[str, Any]:
    return _problems(request).record_root_cause(
        systemic_id, by=acting_as(request, body.by), cause=request_cause(request),
        method=body.method, statement=body.statement, whys=body.whys, category=body.category,
        contributing_factors=[f.model_dump(mode="json") for f in body.contributing_factors])


@router.post("/{systemic_id}/actions", dependencies=responder, status_code=201,
             response_model=SystemicProblemRead,
             summary="Add a corrective or preventive action with its owner")
def add_action(systemic_id: UUID, body: ActionCreate, request: Request,
               response: Response) -> dict[str, Any]:
    read = _problems(request).add_action(
        systemic_id, by=acting_as(request, body.by), cause=request_cause(request),
        kind=body.kind, title=body.title, owner=body.owner, due_date=body.due_date,
        acceptance_criteria=body.acceptance_criteria,
        adverse_implications=body.adverse_implications)
    response.headers["Location"] = (f"/v1/systemic-problems/{systemic_id}/actions/"
                                    f"{read['actions'][-1]['id']}")
    return read


@router.post("/{systemic_id}/actions/{action_id}/complete",
             response_model=SystemicProblemRead,
             summary="Complete an action with evidence (its owner, or a manager)")
def complete_action(systemic_id: UUID, action_id: str, body: ActionCompletion,
                    request: Request,
                    role: Role = Depends(require(Role.RESPONDER))) -> dict[str, Any]:
    return _problems(request).complete_action(
        systemic_id, action_id, by=acting_as(request, body.by), evidence=body.evidence,
        as_manager=role.rank >= Role.MANAGER.rank, cause=request_cause(request))


@router.post("/{systemic_id}/actions/{action_id}/verify", dependencies=verifier,
             response_model=SystemicProblemRead,
             summary="Verify a completed action (not by its owner); ineffective reopens it")
def verify_action(systemic_id: UUID, action_id: str, body: ActionVerification,
                  request: Request) -> dict[str, Any]:
    return _problems(request).verify_action(
        systemic_id, action_id,
        verifier=acting_as(request, body.verifier, "verifier", on_behalf=False),
        effective=body.effective, note=body.note, adverse_check=body.adverse_check,
        cause=request_cause(request))


@router.post("/{systemic_id}/effectiveness-check", dependencies=verifier,
             response_model=SystemicProblemRead,
             summary="After the window passed with the signature away everywhere: a person "
                     "other than the action owners confirms the fix; closes the problem")
def record_effectiveness_check(systemic_id: UUID, body: EffectivenessCheck,
                               request: Request) -> dict[str, Any]:
    return _problems(request).record_effectiveness_check(
        systemic_id, verifier=acting_as(request, body.verifier, "verifier", on_behalf=False),
        text=body.text, evidence=body.evidence, cause=request_cause(request))
