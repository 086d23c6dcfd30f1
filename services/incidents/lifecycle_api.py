"""HTTP routes for the incident's lifecycle under /v1/incidents: declare one by hand, change
its severity, reopen it, post progress, follow and unfollow it."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from shared.auth import Role, acting_as, require
from shared.http import request_cause, runtime_of

from services.incidents.app import IncidentsApplication
from services.incidents.domain import DowngradeNeedsManager
from services.incidents.intake.intake import classify_declared
from services.incidents.lifecycle_schemas import (
    FollowChange, IncidentDeclare, IncidentReopen, ProgressPost, SeverityChange,
)
from services.incidents.schemas import IncidentRead

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
responder = [Depends(require(Role.RESPONDER))]


def _app(request: Request) -> IncidentsApplication:
    return runtime_of(request).application


@router.post("", response_model=IncidentRead, status_code=201, dependencies=responder)
def declare(body: IncidentDeclare, request: Request) -> dict[str, Any]:
    """An incident no alert raised: the reporter (its requester) is told of its lifecycle."""
    severity, intake = classify_declared(request.app.state.classifier, body)
    return _app(request).declare(severity, body.title, body.entity, body.summary,
                                 acting_as(request, body.reporter, "reporter"),
                                 request_cause(request), drill=body.drill, intake=intake)


@router.post("/{id_or_ref}/severity", response_model=IncidentRead, dependencies=responder,
             responses={403: {"description": "lowering a severity needs the manager role"}})
def change_severity(id_or_ref: str, body: SeverityChange, request: Request) -> dict[str, Any]:
    """Deadlines become the new severity's SLA from the opening; raising an unacknowledged
    incident to P0/P1 pages the new severity's first step. Raising: responders; lowering:
    managers."""
    manager = getattr(request.state, "role", Role.VIEWER).rank >= Role.MANAGER.rank
    try:
        return _app(request).change_severity(id_or_ref, body.severity, body.reason,
                                             acting_as(request, body.by),
                                             request_cause(request), manager=manager)
    except DowngradeNeedsManager as refused:
        raise HTTPException(403, str(refused)) from None


@router.post("/{id_or_ref}/reopen", response_model=IncidentRead, dependencies=responder)
def reopen(id_or_ref: str, body: IncidentReopen, request: Request) -> dict[str, Any]:
    """Only a resolved or closed incident: back to 调查中, to be acknowledged anew."""
    return _app(request).reopen(id_or_ref, body.reason, acting_as(request, body.by),
                                request_cause(request))


@router.post("/{id_or_ref}/progress", response_model=IncidentRead, dependencies=responder)
def post_progress(id_or_ref: str, body: ProgressPost, request: Request) -> dict[str, Any]:
    """Reaches the incident's R, A, I, reporter and followers (not its author), saying when
    the next update is due: `next_update_at`, `next_update_in`, else the severity's cadence
    (422 naming the field for a time not ahead). It meets the update due and sets the next."""
    return _app(request).post_progress(id_or_ref, body.text,
                                       acting_as(request, body.author, "author"),
                                       request_cause(request),
                                       next_update_at=body.next_update_at,
                                       next_update_in=body.next_update_in)


@router.post("/{id_or_ref}/follow", response_model=IncidentRead, dependencies=responder)
def follow(id_or_ref: str, body: FollowChange, request: Request) -> dict[str, Any]:
    """Following again changes nothing."""
    return _app(request).follow(id_or_ref, body.person, acting_as(request, body.by),
                                request_cause(request))


@router.post("/{id_or_ref}/unfollow", response_model=IncidentRead, dependencies=responder)
def unfollow(id_or_ref: str, body: FollowChange, request: Request) -> dict[str, Any]:
    """Someone who does not follow it changes nothing."""
    return _app(request).unfollow(id_or_ref, body.person, acting_as(request, body.by),
                                  request_cause(request))
