"""The big screen (大屏, `/wall`): a read-only wall view for the operations centre — open
incidents by severity and region, the newest P0s large, SLA at risk, today's counts — from
the incidents service's `GET /v1/board/summary`. It re-reads the summary when the board feed
says a card changed, and every `wall_poll_seconds` regardless; it has no forms."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.apis import Refused, ServiceDown
from services.console.pages import render, signed_in, to_sign_in

router = APIRouter()
NEWEST_P0 = 4
AT_RISK_ROWS = 8


async def _summary(request: Request, session: dict[str, Any]) -> dict[str, Any]:
    state = request.app.state
    try:
        summary = await state.apis.call("incidents", "GET", "/v1/board/summary",
                                        session["key"], params={
                                            "tz": state.settings.time_zone,
                                            "newest": NEWEST_P0,
                                            "at_risk_cards": AT_RISK_ROWS})
    except ServiceDown as down:
        return {"down": down.service}
    except Refused as refused:
        return {"refused": refused.message}
    return {"summary": summary, "chart": {
        "severity": summary["by_severity"],
        "regions": [[r["region"], r["open"]] for r in summary["by_region"]]}}


@router.get("/wall", response_class=HTMLResponse)
async def wall_page(request: Request) -> Response:
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    return render(request, "bigscreen.html", session,
                  poll_seconds=request.app.state.settings.wall_poll_seconds,
                  **await _summary(request, session))


@router.get("/wall/panel", response_class=HTMLResponse)
async def wall_panel(request: Request) -> Response:
    """The wall's content alone: htmx swaps it in on a change and on every poll."""
    session = signed_in(request)
    if session is None:
        return Response(status_code=401)
    return render(request, "bigscreen_panel.html", session,
                  **await _summary(request, session))
