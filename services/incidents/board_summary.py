"""`GET /v1/board/summary`: what an operations centre's wall shows at a glance — open
incidents by severity and by region, how many are at risk or overdue, today's counts, the
newest open P0s and the at-risk cards — counted in PostgreSQL, so a wall polling it reads a
few rows however many incidents are open."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, time
from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from shared.auth import Role, require
from shared.http import runtime_of

from services.incidents.board_filters import (
    FROM, OPEN, PLANNED, Params, ViewFilters, known_params_only,
)
from services.incidents.board_queries import CARD_COLUMNS, ORDER, card_of
from services.incidents.reports.period import zone_of
from services.incidents.sla_views import AT_RISK

router = APIRouter(prefix="/v1", tags=["board"])
MAX_CARDS = 50
REGION = "c.unit_path -> -2 ->> 'name'"  # the unit above the entity's, as on the card


@router.get("/board/summary", dependencies=[Depends(require(Role.VIEWER)),
                                            Depends(known_params_only)])
async def board_summary(
    request: Request,
    tz: str | None = Query(None, description="IANA zone whose midnight starts 'today' "
                           "(default UTC), e.g. Asia/Shanghai"),
    newest: int = Query(6, ge=0, le=MAX_CARDS, description="open P0 cards, newest first"),
    at_risk_cards: int = Query(10, ge=0, le=MAX_CARDS,
                               description="open cards at risk or overdue, due soonest first"),
) -> dict[str, Any]:
    """Open incidents (neither closed nor archived) by severity and region; at risk (a
    deadline warned and still running) and overdue (the board's `overdue`); today's opened,
    acknowledged, resolved and closed; the newest open P0s and the at-risk cards."""
    runtime = runtime_of(request)
    now = runtime.clock.now()
    zone = zone_of(tz)
    midnight = datetime.combine(now.astimezone(zone).date(), time(), zone)
    late = " AND ".join(ViewFilters(overdue=True).where(p := Params(), now))
    async with runtime.pool.acquire() as conn, conn.transaction(readonly=True):
        # One pass over the open incidents (each joined to its card once) gives every count.
        groups = await conn.fetch(
            f"SELECT i.severity, {REGION} AS region, count(*) AS n, "
            f"count(*) FILTER (WHERE {AT_RISK}) AS at_risk, "
            f"count(*) FILTER (WHERE {late}) AS overdue "
            f"FROM {FROM} WHERE {OPEN} GROUP BY 1, 2", *p.values)
        today = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE opened_at >= $1) AS opened, "
            "count(*) FILTER (WHERE acknowledged_at >= $1) AS acknowledged, "
            "count(*) FILTER (WHERE resolved_at >= $1) AS resolved, "
            "count(*) FILTER (WHERE closed_at >= $1) AS closed FROM incidents "
            "WHERE opened_at >= $1 OR acknowledged_at >= $1 OR resolved_at >= $1 "
            "OR closed_at >= $1", midnight)
        p0 = await conn.fetch(f"SELECT {CARD_COLUMNS} FROM {FROM} WHERE {OPEN} AND "
                              f"i.severity = 'P0' {ORDER} LIMIT $1", newest)
        risky = await conn.fetch(
            f"SELECT {CARD_COLUMNS} FROM {FROM} WHERE {OPEN} AND ({AT_RISK} OR {late}) "
            f"ORDER BY {PLANNED} NULLS LAST, i.ref LIMIT {p(at_risk_cards)}", *p.values)
    severities: Counter[str] = Counter()
    regions: Counter[str | None] = Counter()
    for row in groups:
        severities[row["severity"]] += row["n"]
        regions[row["region"]] += row["n"]
    return {
        "generated_at": now, "today_from": midnight,
        "open": sum(severities.values()),
        "by_severity": {s: severities[s] for s in ("P0", "P1", "P2", "P3")},
        # Most open first; incidents without a region last among equals.
        "by_region": [{"region": region, "open": n} for region, n in sorted(
            regions.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))],
        "at_risk": sum(row["at_risk"] for row in groups),
        "overdue": sum(row["overdue"] for row in groups),
        "today": dict(today),
        "newest_p0": [card_of(row, now) for row in p0],
        "at_risk_cards": [card_of(row, now) for row in risky],
    }
