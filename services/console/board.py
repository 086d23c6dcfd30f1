"""The board's columns, read from the incidents service: `GET /v1/board` where it exists,
else the incidents list grouped by status. Both become the same columns and cards."""
from __future__ import annotations

from typing import Any

from services.console.apis import Apis, Refused

STATUSES = ("new", "investigating", "planning", "executing", "verifying", "observing", "closed")
LISTED = 500  # without the board API: the newest open and closed incidents shown


def card(item: dict[str, Any]) -> dict[str, Any]:
    """One card from either a board card or an incidents-list row."""
    response = item.get("response") or {}
    overdue = (response.get("state") == "missed" if response else
               any(item.get(f"{d}_breached") for d in ("respond", "resolve", "close")))
    return {"ref": item["ref"], "severity": item["severity"], "entity": item["entity"],
            "title": item["title"], "responsible": item.get("responsible"),
            "at_risk": bool(item.get("at_risk")), "overdue": bool(overdue),
            "drill": bool(item.get("drill"))}


def matches(item: dict[str, Any], search: str) -> bool:
    words = search.casefold().split()
    text = " ".join(str(item.get(k) or "") for k in ("ref", "entity", "title")).casefold()
    return all(word in text for word in words)


async def columns(apis: Apis, key: str, *, severity: str = "",
                  search: str = "") -> list[dict[str, Any]]:
    params = {"severity": severity} if severity else {}
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
