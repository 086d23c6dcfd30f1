"""The `report_facts` read model: per incident, what the reports need beyond the `incidents`
table (unit, type, source, the repeat key, support tiers at resolution, reopenings). A table
of its own so it can be dropped and rebuilt without touching the board's."""
from __future__ import annotations

from typing import Any

import asyncpg

from shared.readmodels import Apply, Projection
from shared.row_writes import own_rows

from services.incidents.domain import Incident
from services.incidents.domain.lifecycle import IncidentLifecycle
from services.incidents.domain.sla import incident_type
from services.incidents.domain.tiers import IncidentTiers

REPORT_FACTS_DDL = """
CREATE TABLE IF NOT EXISTS report_facts (
    id uuid PRIMARY KEY,
    opened_at timestamptz NOT NULL,
    unit text,
    unit_keys text[] NOT NULL DEFAULT '{}',
    problem_type text,
    source text NOT NULL,
    entity text NOT NULL,
    problem text NOT NULL,
    tier_entries integer NOT NULL DEFAULT 0,
    handovers integer NOT NULL DEFAULT 0,
    first_line boolean,
    reopens integer NOT NULL DEFAULT 0,
    first_reopened_at timestamptz
);
CREATE INDEX IF NOT EXISTS report_facts_units ON report_facts USING gin (unit_keys);
CREATE INDEX IF NOT EXISTS report_facts_opened_at ON report_facts (opened_at);
"""


class ReportFactsProjection(Projection):
    name = "reports"
    tables = {"report_facts": REPORT_FACTS_DDL}

    def handlers(self) -> dict[type, Apply]:
        return {Incident.Opened: opened, Incident.Staffed: staffed,
                Incident.Resolved: resolved,
                IncidentTiers.TierEntered: tier_entered, IncidentTiers.HandedOver: handed_over,
                IncidentLifecycle.Reopened: reopened}


def facts_of(alert: dict[str, Any], entity: str) -> dict[str, Any]:
    """Unit, type, source and the repeat key of an opening's alert. The unit is the alert's
    `unit` label, else its `region` label (none for incidents declared by hand)."""
    labels = alert.get("labels") or {}
    intake = alert.get("intake") or {}
    kind = incident_type(alert) or intake.get("problem_type")
    return {"unit": labels.get("unit") or labels.get("region") or None,
            "problem_type": kind,
            # Manual intake says how it came in (ticket, phone …); alerts say who raised them.
            "source": str(intake.get("source") or alert.get("source") or "unknown"),
            "problem": f"{entity} · {kind or alert.get('name') or 'unnamed'}"}


def units_of(path: list[dict[str, str]], label: str | None) -> tuple[str | None, list[str]]:
    """The entity's own unit (the last of the organisation's path, else the label) and every
    key and name a `unit=` filter matches: the unit's and each unit's above it (a region)."""
    named = [str(u[k]) for u in path for k in ("key", "name") if u.get(k)]
    own = (path[-1].get("name") or path[-1].get("key")) if path else label
    return own, list(dict.fromkeys([*named, *([label] if label else [])]))


@own_rows
async def opened(conn: asyncpg.Connection, e: Any) -> None:
    f = facts_of(e.alert, e.entity)
    unit, keys = units_of([], f["unit"])
    await conn.execute(
        """INSERT INTO report_facts (id, unit, unit_keys, problem_type, source, entity, problem,
                                     opened_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET unit = EXCLUDED.unit, unit_keys = EXCLUDED.unit_keys,
               opened_at = EXCLUDED.opened_at,
               problem_type = EXCLUDED.problem_type, source = EXCLUDED.source,
               entity = EXCLUDED.entity, problem = EXCLUDED.problem, tier_entries = 0,
               handovers = 0, first_line = NULL, reopens = 0, first_reopened_at = NULL""",
        e.originator_id, unit, keys, f["problem_type"], f["source"], e.entity, f["problem"],
        e.at)


async def staffed(conn: asyncpg.Connection, e: Any) -> None:
    # Staffing that names the organisation's units above the entity (`unit_path`, optional:
    # older events and entities of no unit have none) places the incident in them.
    path = getattr(e, "unit_path", None) or []
    if path:
        label = await conn.fetchval("SELECT unit FROM report_facts WHERE id = $1",
                                    e.originator_id)
        unit, keys = units_of(path, label)
        await conn.execute("UPDATE report_facts SET unit = $2, unit_keys = $3 WHERE id = $1",
                           e.originator_id, unit, keys)


async def tier_entered(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE report_facts SET tier_entries = tier_entries + 1 WHERE id = $1",
                       e.originator_id)


async def handed_over(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE report_facts SET handovers = handovers + 1 WHERE id = $1",
                       e.originator_id)


async def resolved(conn: asyncpg.Connection, e: Any) -> None:
    # First line: routed to a tier and resolved there, neither escalated on time nor handed
    # over. Never routed: not counted either way (null).
    await conn.execute(
        "UPDATE report_facts SET first_line = CASE WHEN tier_entries = 0 THEN NULL "
        "ELSE tier_entries = 1 AND handovers = 0 END WHERE id = $1", e.originator_id)


async def reopened(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE report_facts SET reopens = reopens + 1, "
        "first_reopened_at = coalesce(first_reopened_at, $2) WHERE id = $1",
        e.originator_id, e.at)
