"""/v1/ack/{token}: the one-click acknowledge link of a page. Open routes: the signed link is
the credential (shared/ack_links.py). GET shows what would be acknowledged and as whom and
changes nothing, because mail scanners and chat previews open links nobody clicked; POST
acknowledges. Browsers get a small HTML page, other clients JSON."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from shared.ack_links import AckClaims, AckLinkRefused, AckLinks
from shared.http import request_cause, runtime_of

from services.incidents.ack_html import confirmation, outcome, refusal
from services.incidents.domain import IncidentNotFound, LinkAlreadyUsed

router = APIRouter(prefix="/v1/ack", tags=["acknowledge links"])

# A refusal's status says whether asking again could help: never, for any of these.
STATUS = {"malformed": 400, "forged": 403, "not_found": 404, "used": 409, "expired": 410,
          "off": 404}
# The token is in the URL: it must not leak to other sites, caches or frames.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}


class AckLinkIncident(BaseModel):
    id: str
    ref: str
    severity: str
    title: str
    entity: str
    status: str
    status_label: str
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


class AckLinkRead(BaseModel):
    """What the link would do (GET) or did (POST)."""

    incident: AckLinkIncident
    person: str = Field(description="who the link acknowledges as: the person paged")
    expires_at: datetime
    used_at: datetime | None = Field(None, description="GET: when the link was used, if it was")
    acknowledged: bool | None = Field(None, description="POST: true when this acknowledged "
                                      "the incident; false when it was acknowledged already")


class AckLinkRefusal(BaseModel):
    detail: str
    reason: str | None = Field(None, description="malformed, forged, expired, used, not_found "
                                             "or off; absent when no link route was reached")


_REFUSALS = {code: {"model": AckLinkRefusal, "content": {"text/html": {}},
                    "description": why} for code, why in (
    (400, "not a link of ours (cut short, mangled)"), (403, "the signature does not match"),
    (404, "no such incident, or links are off here"), (409, "the link was used already"),
    (410, "the link expired"))}
_ANSWERS = {200: {"model": AckLinkRead, "content": {"text/html": {}}}, **_REFUSALS}


class LinkRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@router.get("/{token}", responses=_ANSWERS, response_class=Response)
def show(token: str, request: Request) -> Response:
    """What the link acknowledges and as whom, with the button that does it; no change."""
    try:
        link = _verified(token, request)
        view = _app(request).page_link(link)
    except (LinkRefused, IncidentNotFound) as refused:
        return _refused(request, refused)
    if view["used_at"] is not None:
        return _refused(request, LinkRefused("used", f"this link was used at "
                                             f"{view['used_at'].isoformat()}; each link works "
                                             "once"))
    read = _read(view["incident"], link, used_at=None)
    if _wants_html(request):
        return HTMLResponse(confirmation(read), headers=HEADERS)
    return JSONResponse(read.model_dump(mode="json"), headers=HEADERS)


@router.post("/{token}", responses=_ANSWERS, response_class=Response)
def acknowledge(token: str, request: Request) -> Response:
    """Acknowledge as the person paged (if nobody has yet) and record that they read the
    page. A second use, an expired or an altered link is refused and changes nothing."""
    try:
        link = _verified(token, request)
        done = _app(request).read_page(link, request_cause(request))
    except (LinkRefused, IncidentNotFound, LinkAlreadyUsed) as refused:
        return _refused(request, refused)
    read = _read(done["incident"], link, acknowledged=done["acknowledged"])
    if _wants_html(request):
        return HTMLResponse(outcome(read), headers=HEADERS)
    return JSONResponse(read.model_dump(mode="json"), headers=HEADERS)


def _verified(token: str, request: Request) -> AckClaims:
    links: AckLinks | None = request.app.state.ack_links
    if links is None:
        raise LinkRefused("off", "one-click acknowledge is off here (no CLOSEDLOOP_ACK_LINK_KEY); "
                          "acknowledge from the incident's page or the API")
    try:
        return links.verify(token, runtime_of(request).clock.now())
    except AckLinkRefused as refused:
        raise LinkRefused(str(refused.reason), str(refused)) from None


def _read(incident: dict[str, Any], link: AckClaims, **outcome: Any) -> AckLinkRead:
    return AckLinkRead(incident=AckLinkIncident(**incident), person=link.person,
                       expires_at=link.expires_at, **outcome)


def _refused(request: Request, refused: Exception) -> Response:
    reason = {IncidentNotFound: "not_found", LinkAlreadyUsed: "used"}.get(
        type(refused), getattr(refused, "reason", "malformed"))
    body = AckLinkRefusal(detail=str(refused), reason=reason)
    if _wants_html(request):
        return HTMLResponse(refusal(body.detail), STATUS[reason], headers=HEADERS)
    return JSONResponse(body.model_dump(), STATUS[reason], headers=HEADERS)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _app(request: Request) -> Any:
    return runtime_of(request).application
