"""The on-call page: who is on call now per schedule and per unit, and each schedule's week
of shifts and overrides, all from the notifier's on-call APIs."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.console.apis import Refused, ServiceDown
from services.console.oncall_week import local, week_days, week_start
from services.console.pages import render, signed_in, to_sign_in

router = APIRouter()
SHOWN = 30   # schedules and units on one page: past that, the page would ask too much at once


@router.get("/oncall", response_class=HTMLResponse)
async def oncall_page(request: Request, week: int = 0) -> Response:
    session = signed_in(request)
    if session is None:
        return to_sign_in(request)
    week = max(-52, min(52, week))
    apis, key = request.app.state.apis, session["key"]

    async def ask(path: str, **params: Any) -> Any:
        return await apis.call("notifier", "GET", path, key, params=params or None)
    try:
        schedules = (await ask("/v1/schedules"))["items"][:SHOWN]
        units = (await ask("/v1/units", limit=SHOWN))["items"]
        now = await asyncio.gather(*(ask(f"/v1/schedules/{quote(s['name'])}/on-call")
                                     for s in schedules))
        unit_now = await asyncio.gather(*(ask(f"/v1/units/{quote(u['key'])}/on-call")
                                          for u in units))
        starts = [week_start(datetime.fromisoformat(n["at"]), s["time_zone"], week)
                  for s, n in zip(schedules, now)]
        shifts = await asyncio.gather(*(
            ask(f"/v1/schedules/{quote(s['name'])}/shifts", start=start.isoformat(),
                end=(start + timedelta(days=7)).isoformat())
            for s, start in zip(schedules, starts)))
    except ServiceDown as down:
        return render(request, "oncall.html", session, 503, down=down.service, week=week)
    except Refused as refused:
        return render(request, "oncall.html", session, refused.status,
                      refused=refused.message, week=week)
    rows = [{**s, "now": local_times(n, s["time_zone"]), "week": start.date(),
             "days": week_days(start, found["items"])}
            for s, n, start, found in zip(schedules, now, starts, shifts)]
    answered = [u for u in unit_now if u["on_call"] or u["unresolved"]]
    return render(request, "oncall.html", session, schedules=rows, units=answered, week=week)


def local_times(answer: dict[str, Any], zone: str) -> dict[str, Any]:
    """Since and until of each person on call, as the schedule's own clock reads them."""
    return {**answer, **{part: [{**p, "since_local": local(p["since"], zone),
                                 "until_local": local(p["until"], zone)}
                                for p in answer[part]] for part in ("on_call", "set_aside")}}
