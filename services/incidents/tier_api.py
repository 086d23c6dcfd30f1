"""Support tiers over HTTP: POST /v1/incidents/{id}/handover (a responder hands the incident
to the next tier with its package), and /v1/score/{token}, the requester's signed
satisfaction link (an open route: the link is the credential). GET shows the form and
changes nothing; POST records the score once."""
from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from shared.ack_links import AckClaims, AckLinkRefused, AckLinks
from shared.auth import Role, acting_as, require
from shared.errors import DomainError
from shared.http import request_cause, runtime_of

from services.incidents.ack_page import _REFUSALS, HEADERS, STATUS, LinkRefused
from services.incidents.domain import IncidentNotFound, LinkAlreadyUsed
from services.incidents.schemas import IncidentRead
from services.incidents.score_html import score_form, score_refusal, score_thanks
from services.incidents.tier_schemas import HandoverCreate, ScoreCreate, ScoreLinkRead

router = APIRouter(prefix="/v1/incidents", tags=["support tiers"])
score_router = APIRouter(prefix="/v1/score", tags=["satisfaction links"])
# The same refusals as the acknowledge links, and 422 for a score out of range.
_SCORE_ANSWERS = {200: {"model": ScoreLinkRead, "content": {"text/html": {}}}, **_REFUSALS,
                  422: {"description": "score: a whole number from 1 to 5"}}


@router.post("/{id_or_ref}/handover", response_model=IncidentRead,
             dependencies=[Depends(require(Role.RESPONDER))])
def hand_over(id_or_ref: str, body: HandoverCreate, request: Request) -> dict[str, Any]:
    """To the next support tier, with the handover package (logs, reproduction, impact); a
    missing part is refused (422) naming it: `package.logs`, `package.reproduction`,
    `package.impact`. 409 when the incident is in no tier, or in the last one."""
    return runtime_of(request).application.hand_over(
        id_or_ref, body.package.model_dump(), acting_as(request, body.by), body.note,
        request_cause(request))


@score_router.get("/{token}", responses=_SCORE_ANSWERS, response_class=Response)
def show(token: str, request: Request) -> Response:
    """The incident and a 1–5 form; nothing changes."""
    try:
        link = _verified(token, request)
        view = runtime_of(request).application.score_link(link)
    except (LinkRefused, IncidentNotFound) as refused:
        return _refused(request, refused)
    if view["used_at"] is not None:
        return _refused(request, LinkRefused("used", f"this link was used at "
                                             f"{view['used_at'].isoformat()}; each link works "
                                             "once"))
    read = ScoreLinkRead(incident=_shown(view["incident"]), person=link.person,
                         expires_at=link.expires_at)
    if _wants_html(request):
        return HTMLResponse(score_form(read), headers=HEADERS)
    return JSONResponse(read.model_dump(mode="json"), headers=HEADERS)


@score_router.post("/{token}", responses=_SCORE_ANSWERS, response_class=Response)
async def rate(token: str, request: Request) -> Response:
    """A JSON body `{score, comment}` or the page's form. Once per link, after resolution."""
    try:
        link = _verified(token, request)  # the link first: a made-up one learns nothing more
    except LinkRefused as refused:
        return _refused(request, refused)
    raw = await request.body()
    try:
        body = ScoreCreate.model_validate(_fields(raw, request))
    except ValidationError as invalid:
        errors = [{"field": ".".join(str(x) for x in e["loc"]) or "body", "message": e["msg"]}
                  for e in invalid.errors()]
        return JSONResponse({"detail": "score: a whole number from 1 to 5", "errors": errors},
                            422, headers=HEADERS)
    try:
        done = await asyncio.to_thread(runtime_of(request).application.rate, link, body.score,
                                       body.comment, request_cause(request))
    except (LinkRefused, IncidentNotFound, LinkAlreadyUsed) as refused:
        return _refused(request, refused)
    except DomainError as refused:  # not resolved yet
        return JSONResponse({"detail": str(refused), "reason": "not_resolved"}, 409,
                            headers=HEADERS)
    read = ScoreLinkRead(incident=_shown(done["incident"]), person=link.person,
                         expires_at=link.expires_at, score=done["score"])
    if _wants_html(request):
        return HTMLResponse(score_thanks(read), headers=HEADERS)
    return JSONResponse(read.model_dump(mode="json"), headers=HEADERS)


def _fields(raw: bytes, request: Request) -> dict[str, Any]:
    """The page's form posts urlencoded fields (no multipart parser needed for two fields)."""
    if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        return form
    try:
        found = json.loads(raw or b"{}")
    except ValueError:
        return {"score": None}
    return found if isinstance(found, dict) else {"score": None}


def _verified(token: str, request: Request) -> AckClaims:
    links: AckLinks | None = getattr(request.app.state, "score_links", None)
    if links is None:
        raise LinkRefused("off", "satisfaction links are off here (no CLOSEDLOOP_ACK_LINK_KEY)")
    try:
        return links.verify(token, runtime_of(request).clock.now())
    except AckLinkRefused as refused:
        raise LinkRefused(str(refused.reason), str(refused).replace("acknowledge link",
                                                                    "satisfaction link")) from None


def _shown(state: dict[str, Any]) -> dict[str, Any]:
    """What the requester sees: not the people and their timeline."""
    return {k: state[k] for k in ("id", "ref", "severity", "title", "entity", "status",
                                  "status_label", "resolved_at", "resolution")}


def _refused(request: Request, refused: Exception) -> Response:
    reason = {IncidentNotFound: "not_found", LinkAlreadyUsed: "used"}.get(
        type(refused), getattr(refused, "reason", "malformed"))
    detail = str(refused).replace("acknowledge link", "satisfaction link")
    if _wants_html(request):
        return HTMLResponse(score_refusal(detail), STATUS[reason], headers=HEADERS)
    return JSONResponse({"detail": detail, "reason": reason}, STATUS[reason], headers=HEADERS)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")
