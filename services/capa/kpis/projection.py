"""The KPI read model: per case the times that matter to the KPIs (opened, first
effectiveness outcome, first recurrence, closed), per action its due date, current completion,
verification and first verdict, and per case its organisation unit path. First-time facts are
kept with COALESCE, so replaying the log gives the same rows."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.capa.domain import CapaCase
from services.capa.domain.drill import DrillCase
from services.capa.domain.recurrence import RecurringCase
from services.capa.units.placement import IncidentUnit
from shared.readmodels import Apply, Projection

CASES = """
CREATE TABLE IF NOT EXISTS capa_kpi_cases (
    id uuid PRIMARY KEY,
    entity text NOT NULL,
    severity text NOT NULL,
    category text,
    watched boolean NOT NULL,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz,
    effectiveness_first text,
    effectiveness_first_at timestamptz,
    effectiveness_failures integer NOT NULL DEFAULT 0,
    recurred_at timestamptz,
    recurrences integer NOT NULL DEFAULT 0,
    drill boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS capa_kpi_cases_opened ON capa_kpi_cases (opened_at);
CREATE INDEX IF NOT EXISTS capa_kpi_cases_closed ON capa_kpi_cases (closed_at)"""

ACTIONS = """
CREATE TABLE IF NOT EXISTS capa_kpi_actions (
    capa_id uuid NOT NULL REFERENCES capa_kpi_cases (id) ON DELETE CASCADE,
    action_id text NOT NULL,
    kind text NOT NULL,
    owner text NOT NULL,
    due_date date NOT NULL,
    added_at timestamptz NOT NULL,
    completed_at timestamptz,
    verified_at timestamptz,
    first_verdict text,
    first_verdict_at timestamptz,
    PRIMARY KEY (capa_id, action_id)
);
CREATE INDEX IF NOT EXISTS capa_kpi_actions_due ON capa_kpi_actions (due_date);
CREATE INDEX IF NOT EXISTS capa_kpi_actions_open ON capa_kpi_actions (owner)
    WHERE verified_at IS NULL"""

# Keyed by the case id the incident will have (uuid5 of its id): the unit is heard when the
# incident is staffed, before its case opens. `unit_keys` holds every key and name of the path,
# so a unit matches the cases of its own entities and of every unit below it.
UNITS = """
CREATE TABLE IF NOT EXISTS capa_kpi_units (
    capa_id uuid PRIMARY KEY,
    unit_key text,
    unit_name text,
    region_key text,
    region_name text,
    unit_path jsonb NOT NULL,
    unit_keys text[] NOT NULL
);
CREATE INDEX IF NOT EXISTS capa_kpi_units_keys ON capa_kpi_units USING gin (unit_keys)"""

PASSED, FAILED = "passed", "failed"
EFFECTIVE, INEFFECTIVE = "effective", "ineffective"


async def _opened(conn: asyncpg.Connection, e: Any) -> None:
    # A case opened before effectiveness windows existed closes at its last verification:
    # it never had an effectiveness check, so it stays out of that KPI.
    await conn.execute(
        "INSERT INTO capa_kpi_cases (id, entity, severity, watched, opened_at, drill)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        e.originator_id, e.entity, e.severity, bool(getattr(e, "window_seconds", None)), e.at,
        bool(getattr(e, "drill", False)))


async def _drill(conn: asyncpg.Connection, e: Any) -> None:
    # Kept, not deleted: the queries leave drills out (NOT c.drill), so every fact stays.
    await conn.execute("UPDATE capa_kpi_cases SET drill = true WHERE id = $1", e.originator_id)


async def _root_cause(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE capa_kpi_cases SET category = $2 WHERE id = $1",
                       e.originator_id, e.category)


async def _action_added(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "INSERT INTO capa_kpi_actions (capa_id, action_id, kind, owner, due_date, added_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (capa_id, action_id) DO NOTHING",
        e.originator_id, e.action_id, e.kind, e.owner, e.due_date, e.at)


async def _action_completed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE capa_kpi_actions SET completed_at = $3"
                       " WHERE capa_id = $1 AND action_id = $2",
                       e.originator_id, e.action_id, e.at)


def _verdict(verdict: str) -> Apply:
    """A verification: effective keeps the completion and ends the action; ineffective sends
    it back to its owner, whose completion no longer stands."""
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        effective = verdict == EFFECTIVE
        await conn.execute(
            "UPDATE capa_kpi_actions SET"
            " verified_at = CASE WHEN $4::boolean THEN $5::timestamptz END,"
            " completed_at = CASE WHEN $4::boolean THEN completed_at END,"
            " first_verdict = COALESCE(first_verdict, $3::text),"
            " first_verdict_at = COALESCE(first_verdict_at, $5::timestamptz)"
            " WHERE capa_id = $1 AND action_id = $2",
            e.originator_id, e.action_id, verdict, effective, e.at)

    return apply


async def _effectiveness_failed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE capa_kpi_cases SET effectiveness_failures = effectiveness_failures + 1,"
        " effectiveness_first = COALESCE(effectiveness_first, $2),"
        " effectiveness_first_at = COALESCE(effectiveness_first_at, $3),"
        " recurred_at = COALESCE(recurred_at, $4) WHERE id = $1",
        e.originator_id, FAILED, e.at, e.fired_at)


async def _recurred(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE capa_kpi_cases SET recurrences = recurrences + 1,"
                       " recurred_at = COALESCE(recurred_at, $2) WHERE id = $1",
                       e.originator_id, getattr(e, "at", None) or e.timestamp)


async def _closed(conn: asyncpg.Connection, e: Any) -> None:
    # A watched case closes only when its window ended clear or a person checked the fix.
    await conn.execute(
        "UPDATE capa_kpi_cases SET closed_at = $2::timestamptz,"
        " effectiveness_first = CASE WHEN watched"
        "     THEN COALESCE(effectiveness_first, $3::text) END,"
        " effectiveness_first_at = CASE WHEN watched"
        "     THEN COALESCE(effectiveness_first_at, $2::timestamptz) END WHERE id = $1",
        e.originator_id, e.at, PASSED)


async def _placed(conn: asyncpg.Connection, e: Any) -> None:
    path = list(e.unit_path)
    unit = path[-1] if path else {}
    region = path[-2] if len(path) > 1 else {}
    keys = sorted({u["key"] for u in path} | {u["name"] for u in path})
    await conn.execute(
        "INSERT INTO capa_kpi_units (capa_id, unit_key, unit_name, region_key, region_name,"
        " unit_path, unit_keys) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)"
        " ON CONFLICT (capa_id) DO UPDATE SET unit_key = $2, unit_name = $3, region_key = $4,"
        " region_name = $5, unit_path = $6::jsonb, unit_keys = $7",
        CapaCase.create_id(e.incident_id), unit.get("key"), unit.get("name"),
        region.get("key"), region.get("name"), json.dumps(path, ensure_ascii=False), keys)


class CapaKpis(Projection):
    name = "capa_kpis"
    tables = {"capa_kpi_cases": CASES, "capa_kpi_actions": ACTIONS, "capa_kpi_units": UNITS}

    def handlers(self) -> dict[type, Apply]:
        handlers: dict[type, Apply] = {
            CapaCase.Opened: _opened,
            CapaCase.RootCauseRecorded: _root_cause,
            CapaCase.ActionAdded: _action_added,
            CapaCase.ActionCompleted: _action_completed,
            CapaCase.ActionVerified: _verdict(EFFECTIVE),
            CapaCase.ActionReopened: _verdict(INEFFECTIVE),
            CapaCase.EffectivenessFailed: _effectiveness_failed,
            CapaCase.Closed: _closed,
            # The class the case triggers: CapaCase.Recurred is the library's unused copy.
            RecurringCase.Recurred: _recurred,
            DrillCase.MarkedDrill: _drill,
            IncidentUnit.Placed: _placed,
        }
        return handlers
