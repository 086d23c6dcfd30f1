"""The KPIs of a period, computed in SQL over the KPI read model (projection.py). Each query
groups by one key expression chosen from GROUPS (never from the request's text), counts in
PostgreSQL and leaves the arithmetic to formulas.py."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.capa.kpis.formulas import AGE_BUCKETS, DEFINITIONS, kpi, mean_hours
from services.capa.kpis.projection import EFFECTIVE, PASSED

# by → SQL key over cases `c` and actions `a`; case KPIs cannot be split by an action's key
GROUPS = {
    "all": "'all'::text",
    "entity": "c.entity",
    "category": "COALESCE(c.category, 'uncategorised')",
    "kind": "a.kind",
    "owner": "a.owner",
}
ACTION_ONLY = {"kind", "owner"}
# The end of the due date in UTC: an action done at any time that day is on time.
DEADLINE = "((a.due_date + 1)::timestamp AT TIME ZONE 'UTC')"
# Drills (演练) exercise the loop but count in no KPI (docs/adr/closing-paths.md).
FROM_ACTIONS = ("FROM capa_kpi_actions a JOIN capa_kpi_cases c ON c.id = a.capa_id"
                " AND NOT c.drill")

ON_TIME = f"""
SELECT {{key}} AS key,
       count(*) FILTER (WHERE a.completed_at <= {DEADLINE}) AS numerator,
       count(*) AS denominator
{FROM_ACTIONS}
WHERE {DEADLINE} > $1 AND {DEADLINE} <= $2
  AND (a.completed_at IS NOT NULL OR {DEADLINE} <= $3)
GROUP BY 1"""

FIRST_PASS = f"""
SELECT {{key}} AS key, count(*) FILTER (WHERE a.first_verdict = '{EFFECTIVE}') AS numerator,
       count(*) AS denominator
{FROM_ACTIONS}
WHERE a.first_verdict_at >= $1 AND a.first_verdict_at < $2
GROUP BY 1"""

EFFECTIVENESS = f"""
SELECT {{key}} AS key, count(*) FILTER (WHERE c.effectiveness_first = '{PASSED}') AS numerator,
       count(*) AS denominator
FROM capa_kpi_cases c
WHERE NOT c.drill AND c.effectiveness_first_at >= $1 AND c.effectiveness_first_at < $2
GROUP BY 1"""

RECURRENCE = """
SELECT {key} AS key, count(*) FILTER (WHERE c.recurred_at < $2) AS numerator,
       count(*) AS denominator
FROM capa_kpi_cases c
WHERE NOT c.drill AND c.opened_at >= $1 AND c.opened_at < $2
GROUP BY 1"""

CLOSURE = """
SELECT {key} AS key, sum(c.closed_at - c.opened_at) AS total, count(*) AS closed
FROM capa_kpi_cases c
WHERE NOT c.drill AND c.closed_at >= $1 AND c.closed_at < $2
GROUP BY 1"""

_BUCKET = " ".join(f"WHEN $1 - a.added_at < interval '{int(below.total_seconds())} seconds' "
                   f"THEN '{label}'" for label, below in AGE_BUCKETS if below is not None)
OPEN_AT = """a.added_at <= $1 AND (a.verified_at IS NULL OR a.verified_at > $1)"""
OPEN_ACTIONS = f"""
SELECT {{key}} AS key, CASE {_BUCKET} ELSE '{AGE_BUCKETS[-1][0]}' END AS bucket,
       count(*) AS open, count(*) FILTER (WHERE {DEADLINE} <= $1) AS overdue
{FROM_ACTIONS}
WHERE {OPEN_AT}
GROUP BY 1, 2"""

# Systemic problems span entities: counted overall, from their own read model
# (services/capa/systemic_projection.py).
SYSTEMIC = """
SELECT count(*) FILTER (WHERE raised_at >= $1 AND raised_at < $2) AS raised,
       count(*) FILTER (WHERE closed_at >= $1 AND closed_at < $2) AS closed,
       count(*) FILTER (WHERE raised_at <= $3 AND (closed_at IS NULL OR closed_at > $3)) AS open
FROM capa_systemic_problems"""


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime
    as_of: datetime  # the end, or now when the period has not ended yet

    @classmethod
    def of(cls, start: datetime, end: datetime, now: datetime) -> "Period":
        return cls(start, end, min(end, now))


async def kpis(conn: asyncpg.Connection, period: Period, by: str) -> dict[str, Any]:
    """Every KPI of the period, overall and per group of `by` (one of GROUPS)."""
    overall = await _figures(conn, period, "all")
    groups = await _figures(conn, period, by) if by != "all" else {}
    notes = []
    if by in ACTION_ONLY:
        notes.append(f"case KPIs (effectiveness, recurrence, time to closure) have no {by}: "
                     "they are given overall only")
    return {
        "from": period.start, "to": period.end, "as_of": period.as_of, "by": by,
        "overall": overall.get("all", _empty()),
        "groups": [{"key": key, "kpis": figures} for key, figures in sorted(groups.items())],
        "open_actions_by_owner": await open_by_owner(conn, period),
        "systemic_problems": dict(await conn.fetchrow(SYSTEMIC, period.start, period.end,
                                                      period.as_of)),
        "definitions": DEFINITIONS, "notes": notes,
    }


async def _figures(conn: asyncpg.Connection, period: Period,
                   by: str) -> dict[str, dict[str, Any]]:
    key = GROUPS[by]
    found: dict[str, dict[str, Any]] = {}

    def put(group: str, name: str, figure: dict[str, Any]) -> None:
        found.setdefault(group, _empty())[name] = figure

    window = (period.start, period.end)
    for row in await conn.fetch(ON_TIME.format(key=key), *window, period.as_of):
        put(row["key"], "on_time_rate", kpi(row["numerator"], row["denominator"]))
    for row in await conn.fetch(FIRST_PASS.format(key=key), *window):
        put(row["key"], "verification_first_pass_rate",
            kpi(row["numerator"], row["denominator"]))
    if by not in ACTION_ONLY:
        for row in await conn.fetch(EFFECTIVENESS.format(key=key), *window):
            put(row["key"], "effectiveness_pass_rate", kpi(row["numerator"], row["denominator"]))
        for row in await conn.fetch(RECURRENCE.format(key=key), *window):
            put(row["key"], "recurrence_rate", kpi(row["numerator"], row["denominator"]))
        for row in await conn.fetch(CLOSURE.format(key=key), *window):
            put(row["key"], "mean_time_to_closure_hours", _closure(row["total"], row["closed"]))
    for row in await conn.fetch(OPEN_ACTIONS.format(key=key), period.as_of):
        figures = found.setdefault(row["key"], _empty())
        _add_open(figures, row["bucket"], row["open"], row["overdue"])
    if by in ACTION_ONLY:
        for figures in found.values():
            for name in ("effectiveness_pass_rate", "recurrence_rate",
                         "mean_time_to_closure_hours"):
                figures.pop(name)
    return found


async def open_by_owner(conn: asyncpg.Connection, period: Period) -> list[dict[str, Any]]:
    owners: dict[str, dict[str, Any]] = {}
    for row in await conn.fetch(OPEN_ACTIONS.format(key=GROUPS["owner"]), period.as_of):
        owner = owners.setdefault(row["key"], {
            "owner": row["key"], "open": 0, "overdue": 0,
            "age": {label: 0 for label, _ in AGE_BUCKETS}})
        owner["open"] += row["open"]
        owner["overdue"] += row["overdue"]
        owner["age"][row["bucket"]] += row["open"]
    return sorted(owners.values(), key=lambda o: (-o["open"], o["owner"]))


def _empty() -> dict[str, Any]:
    figures: dict[str, Any] = {name: kpi(0, 0) for name in (
        "on_time_rate", "verification_first_pass_rate", "effectiveness_pass_rate",
        "recurrence_rate")}
    figures["mean_time_to_closure_hours"] = _closure(None, 0)
    figures["open_actions"] = _count(0)
    figures["open_actions_overdue"] = _count(0)
    for label, _ in AGE_BUCKETS:
        figures[f"open_actions_{label}"] = _count(0)
    return figures


def _closure(total: timedelta | None, closed: int) -> dict[str, Any]:
    hours = round(total.total_seconds() / 3600, 2) if total is not None else 0
    return {"numerator": hours, "denominator": closed, "value": mean_hours(total, closed)}


def _count(n: int) -> dict[str, Any]:
    return {"numerator": n, "denominator": None, "value": n}


def _add_open(figures: dict[str, Any], bucket: str, count: int, overdue: int) -> None:
    for name, n in (("open_actions", count), ("open_actions_overdue", overdue),
                    (f"open_actions_{bucket}", count)):
        figures[name] = _count(figures[name]["value"] + n)
