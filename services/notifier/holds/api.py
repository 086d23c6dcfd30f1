"""HTTP: what the notifier decided when an incident opened (its labels, which routes chose
which policies) and what has held its notifications since."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.notifier.api import app_of, viewer

router = APIRouter(prefix="/v1")


class OpeningRead(BaseModel):
    incident_id: str
    ref: str
    labels: dict[str, str]
    trial: bool
    status: str  # told, held, trial, released, dropped
    firing: bool  # not yet resolved or closed: may hold others through inhibition rules
    hold: dict[str, Any] | None  # what holds it now (or held it last); null when told at once
    recheck_at: datetime | None
    routes: list[dict[str, Any]]  # the routes that chose its policies when it opened
    policy_ids: list[str]
    history: list[dict[str, Any]]


@router.get("/openings/{incident_id}", dependencies=viewer, response_model=OpeningRead,
            tags=["routes"], summary="Which routes chose the incident's policies and what "
            "held its notifications")
def get_opening(incident_id: str, request: Request) -> dict:
    return app_of(request).opening(incident_id)
