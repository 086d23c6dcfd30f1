"""The reports page (`/reports`): the timeliness self-check table, MTTA/MTTR and the CAPA KPIs
as charts over a chosen period, read from the incidents and capa services' report APIs. A
service that does not answer blanks only its own part of the page."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.apis import Refused, ServiceDown
from services.console.pages import render, signed_in, to_sign_in
from services.console.periods import DEFAULT, PRESETS, buckets
from services.console.report_charts import capa_series, duration, percent, response_series
from services.console.session import language

router = APIRouter()


async def attempt(call: Awaitable[Any]) -> tuple[Any, str | None]:
    """The answer, or None and what to say instead (the service down, or the API's words)."""
    try:
        return await call, None
    except ServiceDown as down:
        return None, f"down:{down.service}"
    except Refused as refused:
        return None, refused.message


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request, period: str = DEFAULT, unit: str = "") -> Response:
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    state = request.app.state
    apis, key, zone_name = state.apis, session["key"], state.settings.time_zone
    zone = ZoneInfo(zone_name)
    chosen = buckets(period, state.clock.now(), zone)
    unit = unit.strip()
    common = {"from": chosen.first.isoformat(), "tz": zone_name, **({"unit": unit} if unit
                                                                      else {})}

    def incidents(path: str, **extra: Any) -> Awaitable[Any]:
        return apis.call("incidents", "GET", f"/v1/reports/{path}", key,
                         params={**common, **extra})

    def capa(start, end) -> Awaitable[Any]:
        return apis.call("capa", "GET", "/v1/capa/kpis", key, params={
            "from": start.isoformat(), **({"to": end.isoformat()} if end else {})})

    (check, check_problem), (times, times_problem), *capa_answers = await asyncio.gather(
        attempt(incidents("self-check")),
        attempt(incidents("response-times", bucket=chosen.bucket, by="severity")),
        *(attempt(capa(start, end)) for start, end in chosen.bounds(zone)))
    capa_problem = next((problem for _, problem in capa_answers if problem), None)
    lang = language(request)
    return render(
        request, "reports.html", session, period=chosen.preset, presets=list(PRESETS),
        unit=unit, zone=zone_name, check=check, check_problem=check_problem,
        times_problem=times_problem, capa_problem=capa_problem,
        charts={"response": response_series(times["points"] if times else [], chosen.starts),
                "capa": capa_series([answer for answer, _ in capa_answers], chosen.starts)},
        duration=lambda seconds: duration(seconds, lang), percent=percent)
