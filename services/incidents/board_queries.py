"""Reading the board: its columns (every status, with counts) and cards carrying the seed's
fields (ID, 发现时间, 门店 and its unit/region, 级别, 描述, 负责人, 当前状态, 响应时效,
预计闭环时间, 实际闭环时间), from `incidents` joined with `board_cards`."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg

from services.incidents.board_filters import (
    FINISHED, FROM, PLANNED, Params, ViewFilters, encode_cursor,
)
from services.incidents.domain import Status
from services.incidents.sla_views import AT_RISK

CARD_COLUMNS = f"""i.id, i.ref, i.status, i.severity, i.title, i.entity, i.opened_at,
    i.acknowledged_at, i.respond_by, i.respond_breached, i.resolved_at, i.resolve_by,
    i.resolve_breached, i.close_by, i.close_breached, i.closed_at, i.responsible, i.drill,
    c.description, c.type, c.source, c.unit_path, c.planned_close_at, c.planned_by,
    {PLANNED} AS planned, {AT_RISK} AS at_risk"""
ORDER = "ORDER BY i.opened_at DESC, i.ref DESC"
# Expected matches up to which a board ranks them all in one pass; over it, counting them
# and walking each column's index is cheaper (measured with bench_board).
MANY = 20_000
FEW_IDS = 1000  # matches up to which a page finds their ids first (board_filters.where)
# Matches counted one by one on a broad view; past it the view says "10,000+" (`counts_exact`
# false) instead of touching every match: a common word's count read every card's text
# (docs/adr/board-and-search.md, "Broad views").
COUNT_LIMIT = 10_000


async def capped_count(conn: asyncpg.Connection, where: str, values: list[Any],
                       by_status: bool = False) -> tuple[dict[str, int], bool]:
    """The matches per status (or in all, under ""), counting no further than COUNT_LIMIT;
    and whether that is all of them. The scan stops at the limit's next match."""
    key = "i.status" if by_status else "''::text"
    rows = await conn.fetch(
        f"SELECT k, count(*) FROM (SELECT {key} AS k FROM {FROM} {where} "
        f"LIMIT {COUNT_LIMIT + 1}) x GROUP BY k", *values)
    counts = {row[0]: row[1] for row in rows}
    return counts, sum(counts.values()) <= COUNT_LIMIT


def shown_total(counts: dict[str, int], exact: bool) -> int:
    """The total a view shows: the count, or the limit when there are more ("10,000+")."""
    return sum(counts.values()) if exact else COUNT_LIMIT


@asynccontextmanager
async def planned_per_query(conn: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """A transaction whose statements are planned for their actual values: asyncpg prepares
    every statement, and after five runs PostgreSQL may switch to a generic plan, which
    cannot tell a rare search word from a common one (measured: 0.2 s became 1.5 s)."""
    async with conn.transaction(readonly=True):
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield conn


def conditions(filters: ViewFilters, p: Params, now: datetime, few: bool = False,
               **exact: Any) -> list[str]:
    """The filters' SQL, plus `column=value` equalities on `incidents` (status, severity)."""
    where = [f"i.{column} = {p(str(value))}" for column, value in exact.items()
             if value is not None]
    return where + filters.where(p, now, few)


def clause(where: list[str]) -> str:
    return f"WHERE {' AND '.join(where)}" if where else ""


async def board(conn: asyncpg.Connection, filters: ViewFilters, severity: str | None,
                per_column: int, now: datetime) -> dict[str, Any]:
    async with planned_per_query(conn):
        return await _board(conn, filters, severity, per_column, now)


async def _board(conn: asyncpg.Connection, filters: ViewFilters, severity: str | None,
                 per_column: int, now: datetime) -> dict[str, Any]:
    statuses = [str(s) for s in Status]
    exact = True
    if filters == ViewFilters():  # the counts a trigger keeps (board_views.COUNTS_DDL)
        counts = dict(await conn.fetch(
            "SELECT status, sum(n)::bigint FROM board_counts WHERE $1::text IS NULL "
            "OR severity = $1 GROUP BY status", severity and str(severity)))
        rows = await _walked(conn, filters, severity, per_column, now, statuses)
    else:
        p = Params()
        where = clause(conditions(filters, p, now, severity=severity))
        if await estimated(conn, where, p.values) <= MANY:
            counts, rows = await _ranked(conn, where, p, per_column)
        else:
            counts, exact = await capped_count(conn, where, p.values, by_status=True)
            rows = await _walked(conn, filters, severity, per_column, now,
                                 [s for s in statuses if s in counts or not exact])
    cards: dict[str, list[dict[str, Any]]] = {s: [] for s in statuses}
    for row in rows:
        cards[row["status"]].append(card_of(row, now))
    columns = []
    for status in Status:
        listed, count = cards[str(status)], counts.get(str(status), 0)
        if not exact:  # a lower bound: what was counted before the limit, or the cards shown
            count = max(count, len(listed))
        more = count > len(listed) if exact else len(listed) == per_column
        last = listed[-1] if listed and more else None
        columns.append({"status": str(status), "label": status.label, "count": count,
                        "count_exact": exact, "cards": listed,
                        "next_cursor": encode_cursor(last["opened_at"], last["ref"])
                        if last else None})
    return {"generated_at": now, "total": shown_total(counts, exact), "counts_exact": exact,
            "columns": columns}


async def _walked(conn: asyncpg.Connection, filters: ViewFilters, severity: str | None,
                  per_column: int, now: datetime, statuses: list[str]) -> list[Any]:
    """Many match: walk each column's index (status, opened_at); matches come soon. Overdue
    ones are open: the closed and archived columns (most of a long history) are not walked."""
    if filters.overdue:
        statuses = [s for s in statuses if s not in FINISHED]
    p = Params()
    inner = clause([*conditions(filters, p, now, severity=severity), "i.status = s.status"])
    return await conn.fetch(
        f"""SELECT x.* FROM unnest({p(statuses)}::text[]) AS s(status)
            CROSS JOIN LATERAL (SELECT {CARD_COLUMNS} FROM {FROM} {inner} {ORDER}
                                LIMIT {p(per_column)}) x""", *p.values)


async def _ranked(conn: asyncpg.Connection, where: str, p: Params, per_column: int
                  ) -> tuple[dict[str, int], list[Any]]:
    """Not too many match (a search, a store): find them once, count and rank them per
    column on narrow rows, then read the cards shown; a walk per column would repeat the
    search eight times."""
    ranked = await conn.fetch(
        f"""SELECT id, status, in_column FROM (
                SELECT i.id, i.status, count(*) OVER (PARTITION BY i.status) AS in_column,
                       row_number() OVER (PARTITION BY i.status {ORDER}) AS n
                FROM {FROM} {where}) x
            WHERE n <= {p(per_column)}""", *p.values)
    rows = await conn.fetch(f"SELECT {CARD_COLUMNS} FROM {FROM} WHERE i.id = ANY($1::uuid[]) "
                            f"{ORDER}", [row["id"] for row in ranked])
    return {row["status"]: row["in_column"] for row in ranked}, rows


async def estimated(conn: asyncpg.Connection, where: str, values: list[Any]) -> float:
    """How many incidents the planner expects to match (planning only, no execution)."""
    plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {FROM} {where}", *values)
    return float(json.loads(plan)[0]["Plan"]["Plan Rows"])


def card_of(row: asyncpg.Record, now: datetime) -> dict[str, Any]:
    path = json.loads(row["unit_path"]) if row["unit_path"] else []
    status = Status(row["status"])
    return {
        "id": str(row["id"]), "ref": row["ref"], "opened_at": row["opened_at"],
        "entity": row["entity"], "unit": path[-1] if path else None,
        "region": path[-2] if len(path) > 1 else None, "unit_path": path,
        "severity": row["severity"], "title": row["title"],
        "description": row["description"] or "", "type": row["type"], "source": row["source"],
        "responsible": row["responsible"], "status": str(status), "status_label": status.label,
        "response": response_of(row, now),
        "planned_close_at": row["planned"],
        "planned_close_from": planned_from(row), "planned_by": row["planned_by"],
        "closed_at": row["closed_at"], "drill": row["drill"],
        "at_risk": row["at_risk"], "overdue": overdue(row, now),
    }


def overdue(row: Any, now: datetime) -> bool:
    """The board's `overdue` filter for one card: still open and past an SLA deadline or its
    planned closure."""
    if row["status"] in FINISHED or row["closed_at"] is not None:
        return False
    return bool(row["respond_breached"] or row["resolve_breached"] or row["close_breached"]
                or (row["planned"] is not None and row["planned"] < now))


def response_of(row: Any, now: datetime) -> dict[str, Any]:
    """响应时效: met or missed against the respond deadline, and how long it took (or has
    been waiting, while nobody has answered and the deadline still runs: pending)."""
    answered = row["acknowledged_at"] or row["resolved_at"]
    until = answered or now
    if answered is not None:
        state = "met" if answered <= row["respond_by"] else "missed"
    else:
        state = "missed" if row["respond_breached"] or now > row["respond_by"] else "pending"
    return {"state": state, "seconds": max(0.0, (until - row["opened_at"]).total_seconds()),
            "answered_at": answered, "due": row["respond_by"]}


def planned_from(row: Any) -> str:
    if row["planned_close_at"] is not None:
        return "set"
    return "sla close target" if row["close_by"] is not None else "sla resolve target"
