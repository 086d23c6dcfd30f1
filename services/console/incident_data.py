"""What the incident page shows beyond the incident itself, each part read from the service
that owns it: the alerts with their metric around each (incidents, detector), the checklist
(incidents), the CAPA case and the recommended knowledge (capa). A part whose service does
not answer says so; the other parts are still shown."""
from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

from services.console.apis import Apis, Refused, ServiceDown

RECOMMENDED = 5


async def _part(call) -> dict[str, Any]:
    """{"data": …} or {"down": service} or {"refused": message, "status": code}."""
    try:
        return {"data": await call}
    except ServiceDown as down:
        return {"down": down.service}
    except Refused as refused:
        return {"refused": refused.message, "status": refused.status}


async def _alerts(apis: Apis, key: str, ref: str) -> list[dict[str, Any]]:
    alerts = await apis.call("incidents", "GET", f"/v1/incidents/{quote(ref)}/alerts", key)
    charts = await asyncio.gather(*(_part(apis.call(
        "detector", "GET", f"/v1/alerts/{quote(a['fingerprint'], safe='')}/samples", key))
        for a in alerts))
    return [{**alert, "chart": chart} for alert, chart in zip(alerts, charts)]


def chart_option(around: dict[str, Any], fired_at: str | None) -> str:
    """The ECharts option (JSON) for one alert: the series, the rule's bounds as lines or a
    band, and a mark where the alert fired."""
    points = [[p["at"], p["value"]] for p in around.get("samples", [])]
    bounds = around.get("bounds") or {}
    lines = [{"yAxis": v, "name": k} for k, v in bounds.items() if isinstance(v, (int, float))]
    if not lines and not any(isinstance(v, list) for v in bounds.values()) \
            and around.get("threshold") is not None:
        lines = [{"yAxis": around["threshold"], "name": "threshold"}]
    bands = [[{"yAxis": v[0], "name": k}, {"yAxis": v[1]}] for k, v in bounds.items()
             if isinstance(v, list) and len(v) == 2]
    fired = around.get("started_at") or fired_at
    series: dict[str, Any] = {
        "type": "line", "name": around.get("metric") or around.get("name"), "data": points,
        "showSymbol": len(points) < 60,
        "markLine": {"symbol": "none", "lineStyle": {"color": "#c0392b", "type": "dashed"},
                     "label": {"formatter": "{b} {c}", "position": "insideEndTop"},
                     "data": lines + ([{"xAxis": fired, "name": "alert",
                                        "label": {"formatter": "{b}"},
                                        "lineStyle": {"color": "#888"}}] if fired else [])},
    }
    if bands:
        series["markArea"] = {"itemStyle": {"color": "rgba(192,57,43,0.08)"}, "data": bands}
    return json.dumps({
        "animation": False, "grid": {"left": 48, "right": 24, "top": 24, "bottom": 32},
        "tooltip": {"trigger": "axis"}, "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "scale": True}, "series": [series]}, ensure_ascii=False)


async def incident_parts(apis: Apis, key: str, incident: dict[str, Any]) -> dict[str, Any]:
    ref, capa_id = incident["ref"], incident.get("capa_id")

    async def nothing() -> None:
        return None

    alerts, checklist, capa, knowledge = await asyncio.gather(
        _part(_alerts(apis, key, ref)),
        _part(apis.call("incidents", "GET", f"/v1/incidents/{quote(ref)}/checklist", key)),
        _part(apis.call("capa", "GET", f"/v1/capa/{quote(capa_id)}", key)
              if capa_id else nothing()),
        _part(apis.call("capa", "GET", f"/v1/incidents/{quote(incident['id'])}/recommendations",
                        key, params={"limit": RECOMMENDED})))
    if checklist.get("status") == 404:  # no checklist template applies: nothing to show
        checklist = {"data": None}
    if knowledge.get("status") == 404:  # capa has not heard of the incident yet
        knowledge = {"data": None}
    for alert in (alerts.get("data") or []):
        if "data" in alert["chart"]:
            alert["chart"]["option"] = chart_option(alert["chart"]["data"], alert.get("at"))
    return {"alerts": alerts, "checklist": checklist, "capa": capa, "knowledge": knowledge}
