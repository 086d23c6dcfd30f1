"""The board's columns, read from the incidents service: `GET /v1/board` where it exists,
else the incidents list grouped by status. Both become the same columns and cards."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.console.apis import Apis, Refused

STATUSES = ("new", "investigating", "planning", "executing", "verifying", "observing", "closed")
LISTED = 500  # without the board API: the newest open and closed incidents shown


def card(item: dict[str, Any]) -> dict[str, Any]:
    """One card from either a board card or an incidents-list row."""
    response = item.get("response") or {}
    if "overdue" in item:  # the board API says it: an SLA deadline or the planned closure
        overdue = item["overdue"]
    elif response:
        overdue = response.get("state") == "missed"
    else:
        overdue = any(item.get(f"{d}_breached") for d in ("respond", "resolve", "close"))
    return {"ref": item["ref"], "severity": item["severity"], "entity": item["entity"],
            "title": item["title"], "responsible": item.get("responsible"),
            "at_risk": bool(item.get("at_risk")), "overdue": bool(overdue),
            "drill": bool(item.get("drill"))}


def matches(item: dict[str, Any], search: str) -> bool:
    words = search.casefold().split()
    text = " ".join(str(item.get(k) or "") for k in ("ref", "entity", "title")).casefold()
    return all(word in text for word in words)


def api_filters(unit: str, owner: str, opened_from: str, opened_to: str,
                zone: ZoneInfo) -> dict[str, str]:
    """The board's unit, owner and date filters as the API takes them: dates (YYYY-MM-DD) are
    whole days in the console's time zone, `to` included. ValueError names a bad date."""
    found = {k: v.strip() for k, v in (("unit", unit), ("owner", owner)) if v.strip()}
    for name, value, days in (("from", opened_from, 0), ("to", opened_to, 1)):
        if value.strip():
            try:
                day = date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(value) from None
            found[name] = datetime.combine(day + timedelta(days=days), time(), zone).isoformat()
    return found


async def columns(apis: Apis, key: str, *, severity: str = "", search: str = "",
                  filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
    params = {**({"severity": severity} if severity else {}), **(filters or {})}
    try:  # the board API searches itself (Chinese words too), and counts what it found
        board = await apis.call("incidents", "GET", "/v1/board", key, params={
            **params, "per_column": 50, **({"q": search} if search.strip() else {})})
        by_status = {c["status"]: c for c in board["columns"]}
        return [{"status": s, "count": by_status.get(s, {}).get("count", 0),
                 "cards": [card(i) for i in by_status.get(s, {}).get("cards", [])]}
                for s in STATUSES]
    except Refused as refused:
        if refused.status != 404:  # 404: no board API on this incidents service
            raise
    page = await apis.call("incidents", "GET", "/v1/incidents", key,
                           params={**params, "limit": LISTED})
    grouped: dict[str, list[dict[str, Any]]] = {s: [] for s in STATUSES}
    for item in page["items"]:
        if item["status"] in grouped:
            grouped[item["status"]].append(item)
    return [{"status": s, "count": len(grouped[s]),
             "cards": [card(i) for i in grouped[s] if matches(i, search)]} for s in STATUSES]
