"""HTTP routes for the closing paths under /v1/incidents (docs/adr/closing-paths.md): close
by hand or ask for a CAPA case when a CAPA is optional, flag a drill."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shared.auth import Role, acting_as, require
from shared.http import request_cause, runtime_of
from shared.limits import LongText, Name

from services.incidents.app import IncidentsApplication
from services.incidents.schemas import IncidentRead

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


class CloseByHand(BaseModel):
    note: LongText = Field(min_length=1,
                           description="what was done, and why no CAPA case is needed")
    by: Name = Field(description="who closes it")


class CapaRequest(BaseModel):
    reason: LongText = Field(min_length=1, description="why a CAPA case is wanted")
    by: Name = Field(description="who asks for it")


class DrillFlag(BaseModel):
    reason: LongText = Field(min_length=1, description="what the drill exercises")
    by: Name = Field(description="who flags it")


def _app(request: Request) -> IncidentsApplication:
    return runtime_of(request).application


@router.post("/{id_or_ref}/close", response_model=IncidentRead,
             dependencies=[Depends(require(Role.RESPONDER))])
def close_by_hand(id_or_ref: str, body: CloseByHand, request: Request) -> dict[str, Any]:
    """Only a resolved incident whose severity makes a CAPA optional, with no case opened:
    → 已闭环 with the note. Otherwise 409 naming how it closes instead."""
    return _app(request).close_by_hand(id_or_ref, body.note, acting_as(request, body.by),
                                       request_cause(request))


@router.post("/{id_or_ref}/capa", response_model=IncidentRead,
             dependencies=[Depends(require(Role.RESPONDER))])
def request_capa(id_or_ref: str, body: CapaRequest, request: Request) -> dict[str, Any]:
    """A CAPA is optional and someone wants one: the CAPA service opens a case, whose
    closure closes the incident."""
    return _app(request).request_capa(id_or_ref, body.reason, acting_as(request, body.by),
                                      request_cause(request))


@router.post("/{id_or_ref}/drill", response_model=IncidentRead,
             dependencies=[Depends(require(Role.MANAGER))])
def flag_drill(id_or_ref: str, body: DrillFlag, request: Request) -> dict[str, Any]:
    """Marks an exercise: shown as a drill and kept out of every KPI from then on. A
    manager's call, since it takes the incident out of the figures. Again: no change."""
    return _app(request).flag_drill(id_or_ref, body.reason, acting_as(request, body.by),
                                    request_cause(request))
