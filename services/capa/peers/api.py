"""HTTP routes of 举一反三: the peers of a case's entity at risk of the same problem, and one
preventive action planned for each in one step."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from services.capa.peers.commands import Peers, class_labels_of
from services.capa.peers.schemas import AtRiskPage, SpreadCreate, SpreadRead
from shared.auth import Role, acting_as, require
from shared.http import request_cause, runtime_of

router = APIRouter(prefix="/v1/capa", tags=["capa"])
responder = [Depends(require(Role.RESPONDER))]
viewer = [Depends(require(Role.VIEWER))]


def _peers(request: Request) -> Peers:
    runtime = runtime_of(request)
    settings = runtime.settings
    return Peers(runtime.application, class_labels_of(settings.peer_labels),
                 timedelta(days=settings.peer_lookback_days))


async def _at_risk(request: Request, capa_id: UUID) -> dict[str, Any]:
    peers = _peers(request)
    case = await asyncio.to_thread(peers.app.case, capa_id)
    async with runtime_of(request).pool.acquire() as conn:
        return await peers.at_risk(conn, case)


@router.get("/{capa_id}/at-risk", dependencies=viewer, response_model=AtRiskPage,
            summary="举一反三: peers of the case's entity at risk of the same problem, and why")
async def at_risk(capa_id: UUID, request: Request) -> dict[str, Any]:
    return await _at_risk(request, capa_id)


@router.post("/{capa_id}/spread", dependencies=responder, response_model=SpreadRead,
             status_code=201,
             summary="举一反三: plan a preventive action for each peer at risk, in one step")
async def spread(capa_id: UUID, body: SpreadCreate, request: Request) -> dict[str, Any]:
    listed = await _at_risk(request, capa_id)
    by, cause = acting_as(request, body.by), request_cause(request)
    return await asyncio.to_thread(
        _peers(request).spread, capa_id, listed["items"], entities=body.entities,
        owner=body.owner, owners=body.owners, verifier=body.verifier, due_date=body.due_date,
        title=body.title, acceptance_criteria=body.acceptance_criteria, by=by, cause=cause)
