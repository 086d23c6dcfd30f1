"""The timeliness self-check table (响应时效自检表): per severity, the standard of each line
(respond, resolve, close), the actual average and p90, pass or fail, the incidents that failed
it, and the closure rate (问题闭环率). Computed in PostgreSQL (docs/adr/reports.md)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from shared.contracts.vocabulary import Severity

from services.incidents.reports.period import Period, ratio, rounded
from services.incidents.sla_policies import SlaPolicies

KINDS = ("respond", "resolve", "close")
# A line passes when at least this share of its measured incidents met their deadline.
REQUIRED_SHARE = 0.9

# The cohort: real incidents opened in the period, each fact counted only if it happened
# before `as_of` (the period's end, or now while it runs). Answering is acknowledging, or
# resolving without an acknowledgement first.
COHORT = """
    SELECT i.ref, i.severity, i.opened_at, i.respond_by, i.resolve_by, i.close_by,
           CASE WHEN coalesce(i.acknowledged_at, i.resolved_at) < $3
                THEN coalesce(i.acknowledged_at, i.resolved_at) END AS responded_at,
           CASE WHEN i.resolved_at < $3 THEN i.resolved_at END AS resolved_at,
           CASE WHEN i.closed_at < $3 THEN i.closed_at END AS closed_at,
           f.unit, f.problem_type, f.source, f.first_line, f.reopens, f.first_reopened_at,
           f.problem, f.entity
      FROM incidents i LEFT JOIN report_facts f  -- the same range lets both use their index
        ON f.id = i.id AND f.opened_at >= $1 AND f.opened_at < $2
     WHERE NOT i.drill AND i.opened_at >= $1 AND i.opened_at < $2
       AND ($4::text IS NULL OR f.unit_keys @> ARRAY[$4::text])"""

LINES_SQL = f"""
WITH cohort AS ({COHORT}),
lines AS (  -- respond and resolve count from the opening, close from the resolution
    SELECT severity, 'respond' AS kind, ref, opened_at, opened_at AS started_at,
           responded_at AS done_at, respond_by AS due FROM cohort
    UNION ALL SELECT severity, 'resolve', ref, opened_at, opened_at, resolved_at, resolve_by
      FROM cohort
    UNION ALL SELECT severity, 'close', ref, opened_at, resolved_at, closed_at, close_by
      FROM cohort),
judged AS (
    SELECT *, extract(epoch FROM done_at - started_at) AS seconds,
           due IS NOT NULL AND done_at IS NOT NULL AND done_at <= due AS met,
           due IS NOT NULL AND (done_at > due OR (done_at IS NULL AND due <= $3)) AS missed
      FROM lines)
SELECT severity, kind, count(*) AS incidents, count(done_at) AS done,
       avg(seconds) AS average_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) AS p90_seconds,
       count(*) FILTER (WHERE met) AS met, count(*) FILTER (WHERE missed) AS missed,
       coalesce(array_agg(ref ORDER BY opened_at, ref) FILTER (WHERE missed), '{{}}')
           AS failed
  FROM judged GROUP BY severity, kind"""


async def self_check(conn: asyncpg.Connection, period: Period, now: datetime,
                     unit: str | None, policies: SlaPolicies) -> dict[str, Any]:
    args = (period.start, period.end, period.as_of(now), unit)
    found = {(r["severity"], r["kind"]): r for r in await conn.fetch(LINES_SQL, *args)}
    severities = []
    for severity in Severity:
        policy = policies.policy(severity)
        lines = [line_of(kind, found.get((str(severity), kind)), policy.targets.get(kind))
                 for kind in KINDS]
        # The close line counts every incident of the cohort and those closed by `as_of`.
        opened, closed = lines[-1]["incidents"], lines[-1]["done"]
        severities.append({
            "severity": str(severity), "policy": policy.name, "opened": opened,
            "lines": lines,
            "closure": {"opened": opened, "closed": closed,
                        **ratio(closed, opened, f"no {severity} incident opened in the period")}})
    opened = sum(s["opened"] for s in severities)
    closed = sum(s["closure"]["closed"] for s in severities)
    return {"period": period.view(now), "unit": unit, "required_share": REQUIRED_SHARE,
            "severities": severities, "opened": opened,
            "closure": {"opened": opened, "closed": closed,
                        **ratio(closed, opened, "no incident opened in the period")},
            "note": None if opened else "no incident opened in the period"
                                        + (f" for unit {unit}" if unit else "")}


def line_of(kind: str, row: Any, target: Any) -> dict[str, Any]:
    """One line of the table; `row` is None when the severity had no incident."""
    standard = target.total_seconds() if target is not None else None
    if row is None:
        return {"kind": kind, "standard_seconds": standard, "incidents": 0, "done": 0,
                "average_seconds": None, "p90_seconds": None, "met": 0, "missed": 0,
                "attainment": None, "passed": None, "failed": [],
                "note": "no incident in the period"}
    measured = row["met"] + row["missed"]
    share = ratio(row["met"], measured, "none reached its deadline yet")
    passed, note = verdict(standard, share["rate"], row["done"])
    return {"kind": kind, "standard_seconds": standard, "incidents": row["incidents"],
            "done": row["done"], "average_seconds": rounded(row["average_seconds"]),
            "p90_seconds": rounded(row["p90_seconds"]), "met": row["met"],
            "missed": row["missed"], "attainment": share["rate"], "passed": passed,
            "failed": list(row["failed"]), "note": note or share["note"]}


def verdict(standard: float | None, attainment: float | None,
            done: int) -> tuple[bool | None, str | None]:
    if standard is None:
        return None, "the SLA policy sets no target for this line"
    if attainment is None:
        return None, None if done else "nothing measured yet"
    return attainment >= REQUIRED_SHARE, None

