"""MTTA and MTTR over time by severity, unit, type or source; first-line resolution, SLA
attainment and reopenings of a period; the top-10 repeat problems. Drills are left out."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.incidents.reports.period import Period, ratio, rounded
from services.incidents.reports.selfcheck import COHORT

GROUPS = {"severity": "severity", "unit": "coalesce(unit, '(none)')",
          "type": "coalesce(problem_type, '(none)')", "source": "source"}
TOP = 10


def _series_sql(by: str) -> str:
    return f"""
WITH cohort AS ({COHORT})
SELECT date_trunc($5, opened_at AT TIME ZONE $6) AS bucket, {GROUPS[by]} AS grp,
       count(*) AS incidents, count(responded_at) AS acknowledged,
       avg(extract(epoch FROM responded_at - opened_at)) AS mtta,
       count(resolved_at) AS resolved,
       avg(extract(epoch FROM resolved_at - opened_at)) AS mttr
  FROM cohort GROUP BY 1, 2 ORDER BY 1, 2"""


async def response_times(conn: asyncpg.Connection, period: Period, now: datetime,
                         unit: str | None, bucket: str, by: str) -> dict[str, Any]:
    rows = await conn.fetch(_series_sql(by), period.start, period.end, period.as_of(now),
                            unit, bucket, period.zone)
    points = [{"bucket": r["bucket"].date().isoformat(), by: r["grp"],
               "incidents": r["incidents"], "acknowledged": r["acknowledged"],
               "mtta_seconds": rounded(r["mtta"]), "resolved": r["resolved"],
               "mttr_seconds": rounded(r["mttr"])} for r in rows]
    return {"period": period.view(now), "unit": unit, "bucket": bucket, "by": by,
            "points": points,
            "note": None if points else "no incident opened in the period"}


KPI_SQL = f"""
WITH cohort AS ({COHORT})
SELECT count(*) AS opened,
       count(*) FILTER (WHERE resolved_at IS NOT NULL AND first_line IS NOT NULL) AS routed,
       count(*) FILTER (WHERE resolved_at IS NOT NULL AND first_line) AS first_line,
       count(*) FILTER (WHERE responded_at <= respond_by) AS respond_met,
       count(*) FILTER (WHERE responded_at > respond_by
                        OR (responded_at IS NULL AND respond_by <= $3)) AS respond_missed,
       count(*) FILTER (WHERE resolved_at <= resolve_by) AS resolve_met,
       count(*) FILTER (WHERE resolved_at > resolve_by
                        OR (resolved_at IS NULL AND resolve_by <= $3)) AS resolve_missed,
       count(*) FILTER (WHERE closed_at <= close_by) AS close_met,
       count(*) FILTER (WHERE closed_at > close_by
                        OR (closed_at IS NULL AND close_by <= $3)) AS close_missed,
       coalesce(array_agg(ref ORDER BY opened_at, ref)
                FILTER (WHERE first_reopened_at < $3), '{{}}') AS reopened
  FROM cohort"""


async def kpis(conn: asyncpg.Connection, period: Period, now: datetime,
               unit: str | None) -> dict[str, Any]:
    r = await conn.fetchrow(KPI_SQL, period.start, period.end, period.as_of(now), unit)
    attainment = {}
    for kind in ("respond", "resolve", "close"):
        met, missed = r[f"{kind}_met"], r[f"{kind}_missed"]
        attainment[kind] = {"met": met, "missed": missed,
                            **ratio(met, met + missed, f"no {kind} deadline came due")}
    reopened = list(r["reopened"])
    return {
        "period": period.view(now), "unit": unit, "opened": r["opened"],
        "first_line_resolution": {
            "resolved_in_tiers": r["routed"], "first_line": r["first_line"],
            **ratio(r["first_line"], r["routed"],
                    "no incident of the period was resolved through the support tiers")},
        "sla_attainment": attainment,
        "reopened": {"count": len(reopened), "refs": reopened,
                     **ratio(len(reopened), r["opened"], "no incident opened in the period")},
        "note": None if r["opened"] else "no incident opened in the period"}


REPEATS_SQL = f"""
WITH cohort AS ({COHORT})
SELECT problem, entity, coalesce(problem_type, '') AS problem_type, count(*) AS incidents,
       array_agg(ref ORDER BY opened_at, ref) AS refs, max(opened_at) AS last_opened_at
  FROM cohort WHERE problem IS NOT NULL GROUP BY problem, entity, problem_type
HAVING count(*) > 1 ORDER BY count(*) DESC, max(opened_at) DESC LIMIT {TOP}"""


async def repeats(conn: asyncpg.Connection, period: Period, now: datetime,
                  unit: str | None) -> dict[str, Any]:
    rows = await conn.fetch(REPEATS_SQL, period.start, period.end, period.as_of(now), unit)
    items = [{"problem": r["problem"], "entity": r["entity"],
              "problem_type": r["problem_type"] or None, "incidents": r["incidents"],
              "refs": list(r["refs"]), "last_opened_at": r["last_opened_at"].isoformat()}
             for r in rows]
    return {"period": period.view(now), "unit": unit, "items": items,
            "note": None if items else "no problem came back in the period"}

