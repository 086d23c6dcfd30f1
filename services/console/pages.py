"""The console's pages: sign-in, the board (看板) and an incident with its acknowledge form.
Each page asks the services' APIs with the signed-in person's key."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette.sse import EventSourceResponse

from services.console.apis import Refused, ServiceDown
from services.console.board import api_filters, columns
from services.console.incident_data import incident_parts
from services.console.session import LANG_COOKIE, LANGS, csrf_ok, language

router = APIRouter()
SEVERITIES = ("P0", "P1", "P2", "P3")


def _parts(request: Request):
    state = request.app.state
    return state.apis, state.sessions, state.templates


def render(request: Request, name: str, session: dict[str, Any], status: int = 200,
           **context: Any) -> HTMLResponse:
    _, sessions, templates = _parts(request)
    session = sessions.with_csrf(session)
    response = templates.TemplateResponse(request, name, {
        "session": session, "lang": language(request), **context}, status_code=status)
    sessions.write(response, session)
    return response


def signed_in(request: Request) -> dict[str, Any] | None:
    session = request.app.state.sessions.read(request)
    return session if session.get("key") else None


def to_sign_in(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/sign-in?next={quote(request.url.path)}", 303)


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: str = "/") -> Response:
    return render(request, "sign_in.html", request.app.state.sessions.read(request), next=next)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, api_key: str = Form(""), name: str = Form(""),
                  csrf: str = Form(""), next: str = Form("/")) -> Response:
    apis, sessions, _ = _parts(request)
    session = sessions.read(request)
    back = next if next.startswith("/") and not next.startswith("//") else "/"
    if not csrf_ok(session, csrf):
        return render(request, "sign_in.html", session, 403, next=back, error="csrf_refused")
    try:  # the key is good when the incidents service says whose it is and that it may read
        me = await apis.call("incidents", "GET", "/v1/whoami", api_key.strip())
    except ServiceDown as down:
        return render(request, "sign_in.html", session, 503, next=back, down=down.service)
    except Refused as refused:  # 401: a key nobody knows; else the API's reason (a role)
        if refused.status == 401:
            return render(request, "sign_in.html", session, 401, next=back, error="unknown_key")
        return render(request, "sign_in.html", session, refused.status, next=back,
                      refused=refused.message)
    response = RedirectResponse(back, 303)
    # A key bound to a person acts only as that person: the page uses that name.
    sessions.write(response, sessions.with_csrf({
        "key": api_key.strip(), "name": me.get("person") or name.strip(),
        "role": me.get("role"), "person": me.get("person")}))
    return response


@router.post("/sign-out")
async def sign_out(request: Request, csrf: str = Form("")) -> Response:
    sessions = request.app.state.sessions
    session = sessions.read(request)
    if not csrf_ok(session, csrf):
        return render(request, "sign_in.html", session, 403, next="/", error="csrf_refused")
    response = RedirectResponse("/sign-in", 303)
    sessions.write(response, sessions.with_csrf({}))
    return response


@router.get("/lang/{code}")
async def switch_language(code: str, next: str = "/") -> Response:
    back = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(back, 303)
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax")
    return response


async def _board(request: Request, session: dict[str, Any], severity: str, q: str,
                 view: dict[str, str]) -> dict[str, Any]:
    apis, settings = request.app.state.apis, request.app.state.settings
    severity = severity if severity in SEVERITIES else ""
    shown = {"severity": severity, "q": q, "unit": view["unit"], "owner": view["owner"],
             "opened_from": view["from"], "opened_to": view["to"],
             "filter_query": urlencode({"severity": severity, "q": q, **view})}
    try:
        found = await columns(apis, session["key"], severity=severity, search=q,
                              filters=api_filters(view["unit"], view["owner"], view["from"],
                                                  view["to"], ZoneInfo(settings.time_zone)))
        return {"columns": found, **shown}
    except ValueError as bad:
        return {"columns": [], "bad_date": str(bad), **shown}
    except ServiceDown as down:
        return {"columns": [], "down": down.service, **shown}
    except Refused as refused:
        return {"columns": [], "refused": refused.message, **shown}


def _view(unit: str, owner: str, opened_from: str, opened_to: str) -> dict[str, str]:
    return {"unit": unit, "owner": owner, "from": opened_from, "to": opened_to}


@router.get("/", response_class=HTMLResponse)
async def board_page(request: Request, severity: str = "", q: str = "", unit: str = "",
                     owner: str = "", opened_from: str = Query("", alias="from"),
                     opened_to: str = Query("", alias="to")) -> Response:
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    return render(request, "board.html", session,
                  poll_seconds=request.app.state.settings.board_poll_seconds,
                  **await _board(request, session, severity, q,
                                 _view(unit, owner, opened_from, opened_to)))


@router.get("/board/columns", response_class=HTMLResponse)
async def board_columns(request: Request, severity: str = "", q: str = "", unit: str = "",
                        owner: str = "", opened_from: str = Query("", alias="from"),
                        opened_to: str = Query("", alias="to")) -> Response:
    """The columns alone: htmx swaps them in every few seconds (live without reload)."""
    session = signed_in(request)
    if session is None:
        return Response(status_code=401)
    return render(request, "board_columns.html", session,
                  **await _board(request, session, severity, q,
                                 _view(unit, owner, opened_from, opened_to)))


@router.get("/board/events")
async def board_events(request: Request) -> Response:
    """Live board: relays the incidents service's feed as `changed` events; the page then
    re-fetches its columns (and still polls, should the feed be away)."""
    session = signed_in(request)
    if session is None:
        return Response(status_code=401)

    async def events():
        async for change in request.app.state.apis.changes(session["key"]):
            yield {"event": change, "data": ""}

    return EventSourceResponse(events(), ping=15)


async def incident_page_with(request: Request, session: dict[str, Any], ref: str,
                         status: int = 200, **context: Any) -> Response:
    apis = request.app.state.apis
    try:
        incident = await apis.call("incidents", "GET", f"/v1/incidents/{quote(ref)}",
                                   session["key"])
    except ServiceDown as down:
        return render(request, "incident.html", session, 503, ref=ref, down=down.service)
    except Refused as refused:
        return render(request, "incident.html", session, refused.status, ref=ref,
                      refused=refused.message)
    parts = await incident_parts(apis, session["key"], incident)
    return render(request, "incident.html", session, status, ref=ref, incident=incident,
                  running=running_clocks(incident), **parts, **context)


def running_clocks(incident: dict[str, Any]) -> set[str]:
    """The SLA deadlines still counting: respond until someone answers, resolve until it is
    resolved, close until it is closed."""
    ends = {"respond": incident.get("acknowledged_at") or incident.get("resolved_at"),
            "resolve": incident.get("resolved_at"), "close": incident.get("closed_at")}
    return {clock for clock, ended in ends.items()
            if not ended and incident.get(f"{clock}_by")}


@router.get("/incidents/{ref}", response_class=HTMLResponse)
async def incident_page(request: Request, ref: str, done: str = "") -> Response:
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    return await incident_page_with(request, session, ref, done=done)


@router.post("/incidents/{ref}/acknowledge", response_class=HTMLResponse)
async def acknowledge(request: Request, ref: str, by: str = Form(""), note: str = Form(""),
                      csrf: str = Form("")) -> Response:
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    if not csrf_ok(session, csrf):
        return await incident_page_with(request, session, ref, 403, ack_error_key="csrf_refused")
    try:
        await request.app.state.apis.call(
            "incidents", "POST", f"/v1/incidents/{quote(ref)}/acknowledge", session["key"],
            json={"by": by.strip(), "note": note})
    except ServiceDown as down:
        return await incident_page_with(request, session, ref, 503, ack_down=down.service)
    except Refused as refused:  # the API's own words, next to the form
        return await incident_page_with(request, session, ref, refused.status,
                                    ack_error=refused.message,
                                    by=by, note=note)
    return RedirectResponse(f"/incidents/{quote(ref)}?done=acknowledged", 303)
