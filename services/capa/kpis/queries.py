"""The KPIs of a period, computed in SQL over the KPI read model (projection.py). Each query
groups by one key expression chosen from GROUPS (never from the request's text), counts in
PostgreSQL and leaves the arithmetic to formulas.py. A unit narrows every figure to the cases
of its entities and of every unit below it (a region and its stores)."""
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
    # The entity's own unit and the unit above it, as the incidents board names them.
    "unit": "COALESCE(u.unit_key, 'unassigned')",
    "region": "COALESCE(u.region_key, 'unassigned')",
}
UNIT_NAMES = {"unit": "SELECT DISTINCT unit_key AS key, unit_name AS name FROM capa_kpi_units",
              "region": "SELECT DISTINCT region_key AS key, region_name AS name"
                        " FROM capa_kpi_units"}
# Every case of the unit or below it; a case whose incident was never staffed has no unit.
UNITS = "LEFT JOIN capa_kpi_units u ON u.capa_id = c.id"
IN_UNIT = "({unit}::text IS NULL OR u.unit_keys @> ARRAY[{unit}::text])"
ACTION_ONLY = {"kind", "owner"}
# The end of the due date in UTC: an action done at any time that day is on time.
DEADLINE = "((a.due_date + 1)::timestamp AT TIME ZONE 'UTC')"
# Drills (演练) exercise the loop but count in no KPI (docs/adr/closing-paths.md).
FROM_ACTIONS = ("FROM capa_kpi_actions a JOIN capa_kpi_cases c ON c.id = a.capa_id"
                f" AND NOT c.drill {UNITS}")
FROM_CASES = f"FROM capa_kpi_cases c {UNITS}"

ON_TIME = f"""
SELECT {{key}} AS key,
       count(*) FILTER (WHERE a.completed_at <= {DEADLINE}) AS numerator,
       count(*) AS denominator
{FROM_ACTIONS}
WHERE {DEADLINE} > $1 AND {DEADLINE} <= $2
  AND (a.completed_at IS NOT NULL OR {DEADLINE} <= $3) AND {IN_UNIT}
GROUP BY 1"""

FIRST_PASS = f"""
SELECT {{key}} AS key, count(*) FILTER (WHERE a.first_verdict = '{EFFECTIVE}') AS numerator,
       count(*) AS denominator
{FROM_ACTIONS}
WHERE a.first_verdict_at >= $1 AND a.first_verdict_at < $2 AND {IN_UNIT}
GROUP BY 1"""

EFFECTIVENESS = f"""
SELECT {{key}} AS key, count(*) FILTER (WHERE c.effectiveness_first = '{PASSED}') AS numerator,
       count(*) AS denominator
{FROM_CASES}
WHERE NOT c.drill AND c.effectiveness_first_at >= $1 AND c.effectiveness_first_at < $2
  AND {IN_UNIT}
GROUP BY 1"""

RECURRENCE = f"""
SELECT {{key}} AS key, count(*) FILTER (WHERE c.recurred_at < $2) AS numerator,
       count(*) AS denominator
{FROM_CASES}
WHERE NOT c.drill AND c.opened_at >= $1 AND c.opened_at < $2 AND {IN_UNIT}
GROUP BY 1"""

CLOSURE = f"""
SELECT {{key}} AS key, sum(c.closed_at - c.opened_at) AS total, count(*) AS closed
{FROM_CASES}
WHERE NOT c.drill AND c.closed_at >= $1 AND c.closed_at < $2 AND {IN_UNIT}
GROUP BY 1"""

_BUCKET = " ".join(f"WHEN $1 - a.added_at < interval '{int(below.total_seconds())} seconds' "
                   f"THEN '{label}'" for label, below in AGE_BUCKETS if below is not None)
OPEN_AT = """a.added_at <= $1 AND (a.verified_at IS NULL OR a.verified_at > $1)"""
OPEN_ACTIONS = f"""
SELECT {{key}} AS key, CASE {_BUCKET} ELSE '{AGE_BUCKETS[-1][0]}' END AS bucket,
       count(*) AS open, count(*) FILTER (WHERE {DEADLINE} <= $1) AS overdue
{FROM_ACTIONS}
WHERE {OPEN_AT} AND {IN_UNIT}
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


async def kpis(conn: asyncpg.Connection, period: Period, by: str,
               unit: str | None = None) -> dict[str, Any]:
    """Every KPI of the period, overall and per group of `by` (one of GROUPS), over the cases
    of `unit` and the units below it (every case when None)."""
    overall = await _figures(conn, period, "all", unit)
    groups = await _figures(conn, period, by, unit) if by != "all" else {}
    names = ({r["key"]: r["name"] for r in await conn.fetch(UNIT_NAMES[by]) if r["key"]}
             if by in UNIT_NAMES else {})
    notes = []
    if by in ACTION_ONLY:
        notes.append(f"case KPIs (effectiveness, recurrence, time to closure) have no {by}: "
                     "they are given overall only")
    if unit is not None:
        notes.append(f"cases of unit '{unit}' and of every unit below it; systemic problems "
                     "span units and are counted for the whole organisation")
    return {
        "from": period.start, "to": period.end, "as_of": period.as_of, "by": by, "unit": unit,
        "overall": overall.get("all", _empty()),
        "groups": [{"key": key, **({"name": names.get(key, key)} if names else {}),
                    "kpis": figures} for key, figures in sorted(groups.items())],
        "open_actions_by_owner": await open_by_owner(conn, period, unit),
        "systemic_problems": dict(await conn.fetchrow(SYSTEMIC, period.start, period.end,
                                                      period.as_of)),
        "definitions": DEFINITIONS, "notes": notes,
    }


async def _fetch(conn: asyncpg.Connection, query: str, by: str, unit: str | None,
                 *args: Any) -> list[asyncpg.Record]:
    """The query grouped by `by`, its unit filter bound as the parameter after `args`."""
    sql = query.format(key=GROUPS[by], unit=f"${len(args) + 1}")
    return await conn.fetch(sql, *args, unit)


async def _figures(conn: asyncpg.Connection, period: Period, by: str,
                   unit: str | None) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def put(group: str, name: str, figure: dict[str, Any]) -> None:
        found.setdefault(group, _empty())[name] = figure

    window = (period.start, period.end)
    for row in await _fetch(conn, ON_TIME, by, unit, *window, period.as_of):
        put(row["key"], "on_time_rate", kpi(row["numerator"], row["denominator"]))
    for row in await _fetch(conn, FIRST_PASS, by, unit, *window):
        put(row["key"], "verification_first_pass_rate",
            kpi(row["numerator"], row["denominator"]))
    if by not in ACTION_ONLY:
        for row in await _fetch(conn, EFFECTIVENESS, by, unit, *window):
            put(row["key"], "effectiveness_pass_rate", kpi(row["numerator"], row["denominator"]))
        for row in await _fetch(conn, RECURRENCE, by, unit, *window):
            put(row["key"], "recurrence_rate", kpi(row["numerator"], row["denominator"]))
        for row in await _fetch(conn, CLOSURE, by, unit, *window):
            put(row["key"], "mean_time_to_closure_hours", _closure(row["total"], row["closed"]))
    for row in await _fetch(conn, OPEN_ACTIONS, by, unit, period.as_of):
        figures = found.setdefault(row["key"], _empty())
        _add_open(figures, row["bucket"], row["open"], row["overdue"])
    if by in ACTION_ONLY:
        for figures in found.values():
            for name in ("effectiveness_pass_rate", "recurrence_rate",
                         "mean_time_to_closure_hours"):
                figures.pop(name)
    return found


async def open_by_owner(conn: asyncpg.Connection, period: Period,
                        unit: str | None = None) -> list[dict[str, Any]]:
    owners: dict[str, dict[str, Any]] = {}
    for row in await _fetch(conn, OPEN_ACTIONS, "owner", unit, period.as_of):
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
