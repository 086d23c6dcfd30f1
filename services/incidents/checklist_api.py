"""SOP checklists over HTTP: GET an incident's checklist with each item's state, POST a check
of one item (who, note), GET a communication template rendered for the incident."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from shared.auth import Role, acting_as, require
from shared.http import request_cause, runtime_of

from services.incidents.checklist_schemas import (
    ChecklistItemRead, ChecklistMessageRead, ChecklistRead, ItemCheck,
)
from services.incidents.domain.checklist import ItemNeedsManager

router = APIRouter(prefix="/v1/incidents", tags=["checklists"])


@router.get("/{id_or_ref}/checklist", response_model=ChecklistRead,
            dependencies=[Depends(require(Role.VIEWER))])
def checklist(id_or_ref: str, request: Request) -> dict[str, Any]:
    """Each item done, open or overdue, with its deadline and who checked it, when, and
    their note. 404 when no template applies to the incident."""
    return runtime_of(request).application.checklist(id_or_ref)


@router.post("/{id_or_ref}/checklist/{item}/check", response_model=ChecklistItemRead,
             dependencies=[Depends(require(Role.RESPONDER))],
             responses={403: {"description": "a sign-off item needs the manager role, or "
                                             "the key cannot act as `by`"},
                        404: {"description": "no such incident, checklist or item"},
                        409: {"description": "the item was checked already"}})
def check(id_or_ref: str, item: str, body: ItemCheck, request: Request) -> dict[str, Any]:
    """Once per item; the notifier stops chasing it."""
    manager = getattr(request.state, "role", Role.VIEWER).rank >= Role.MANAGER.rank
    try:
        return runtime_of(request).application.check_checklist_item(
            id_or_ref, item, acting_as(request, body.by), body.note, manager,
            request_cause(request))
    except ItemNeedsManager as refused:
        raise HTTPException(403, str(refused)) from None


@router.get("/{id_or_ref}/checklist/messages/{name}", response_model=ChecklistMessageRead,
            dependencies=[Depends(require(Role.VIEWER))])
def message(id_or_ref: str, name: str, request: Request,
            language: str = Query("zh", description="zh or en"),
            by: str | None = Query(None, description="who sends it (signs the message)"),
            ) -> dict[str, Any]:
    """A communication template (话术模板) of the checklist's steps, rendered with the
    incident's data now, in SCQA parts (situation, complication, question, answer)."""
    return runtime_of(request).application.checklist_message(id_or_ref, name, language, by)
