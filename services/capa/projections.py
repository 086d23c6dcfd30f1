"""Read models behind GET /v1/capa: one row per case, one per action (counts are recomputed
from the action rows, so replaying any event gives the same table). `effectiveness_ends_at`
is when a watched case's window ends, which the window watch (workers.py) looks for."""
from __future__ import annotations

from typing import Any

import asyncpg

from services.capa.domain import ActionStatus, CapaCase, CaseStatus
from services.capa.domain.drill import DrillCase
from services.capa.domain.observation import ObservedCase
from services.capa.domain.recurrence import RecurringCase
from shared.readmodels import Apply, Projection

CASES = """
CREATE TABLE IF NOT EXISTS capa_cases (
    id uuid PRIMARY KEY,
    incident_id text NOT NULL UNIQUE,
    ref text NOT NULL,
    title text NOT NULL,
    severity text NOT NULL,
    entity text NOT NULL,
    status text NOT NULL,
    root_cause text,
    actions_total integer NOT NULL DEFAULT 0,
    actions_verified integer NOT NULL DEFAULT 0,
    opened_at timestamptz NOT NULL,
    closed_at timestamptz,
    effectiveness_ends_at timestamptz,
    drill boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS capa_cases_window ON capa_cases (effectiveness_ends_at)
    WHERE status = 'effectiveness';
CREATE INDEX IF NOT EXISTS capa_cases_status_opened ON capa_cases (status, opened_at DESC)"""

ACTIONS = """
CREATE TABLE IF NOT EXISTS capa_actions (
    capa_id uuid NOT NULL REFERENCES capa_cases (id) ON DELETE CASCADE,
    action_id text NOT NULL,
    kind text NOT NULL,
    title text NOT NULL,
    owner text NOT NULL,
    due_date date NOT NULL,
    status text NOT NULL,
    PRIMARY KEY (capa_id, action_id)
);
CREATE INDEX IF NOT EXISTS capa_actions_owner ON capa_actions (owner, status)"""


async def _opened(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "INSERT INTO capa_cases (id, incident_id, ref, title, severity, entity, status, opened_at,"
        " drill) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        e.originator_id, e.incident_id, e.ref, e.title, e.severity, e.entity,
        CaseStatus.OPEN.value, e.at, bool(getattr(e, "drill", False)))


async def _drill(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE capa_cases SET drill = true WHERE id = $1", e.originator_id)


async def _root_cause(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE capa_cases SET root_cause = $2 WHERE id = $1",
                       e.originator_id, e.statement)


async def _action_added(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "INSERT INTO capa_actions (capa_id, action_id, kind, title, owner, due_date, status)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (capa_id, action_id) DO NOTHING",
        e.originator_id, e.action_id, e.kind, e.title, e.owner, e.due_date,
        ActionStatus.OPEN.value)
    await _count(conn, e.originator_id)


def _action_status(status: ActionStatus) -> Apply:
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        await conn.execute("UPDATE capa_actions SET status = $3 WHERE capa_id = $1 AND "
                           "action_id = $2", e.originator_id, e.action_id, status.value)
        await _count(conn, e.originator_id)

    return apply


async def _count(conn: asyncpg.Connection, capa_id: Any) -> None:
    await conn.execute(
        "UPDATE capa_cases SET"
        " actions_total = (SELECT count(*) FROM capa_actions WHERE capa_id = $1),"
        " actions_verified = (SELECT count(*) FROM capa_actions WHERE capa_id = $1"
        "                     AND status = $2) WHERE id = $1",
        capa_id, ActionStatus.VERIFIED.value)


async def _window_started(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE capa_cases SET status = $2, effectiveness_ends_at = $3"
                       " WHERE id = $1", e.originator_id, CaseStatus.EFFECTIVENESS.value,
                       e.ends_at)


async def _effectiveness_failed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE capa_cases SET status = $2, effectiveness_ends_at = NULL"
                       " WHERE id = $1", e.originator_id, CaseStatus.OPEN.value)


async def _held_open(conn: asyncpg.Connection, e: Any) -> None:
    # The window's end passed unobserved: nothing is due until samples resume.
    await conn.execute("UPDATE capa_cases SET effectiveness_ends_at = NULL WHERE id = $1",
                       e.originator_id)


async def _metric_resumed(conn: asyncpg.Connection, e: Any) -> None:
    if e.ends_at is not None:  # the watched window, lengthened by the silent time
        await conn.execute("UPDATE capa_cases SET effectiveness_ends_at = $2 WHERE id = $1"
                           " AND status = $3", e.originator_id, e.ends_at,
                           CaseStatus.EFFECTIVENESS.value)


async def _recurred(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE capa_cases SET status = $2, closed_at = NULL,"
                       " effectiveness_ends_at = NULL WHERE id = $1",
                       e.originator_id, CaseStatus.OPEN.value)


async def _closed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE capa_cases SET status = $2, closed_at = $3,"
                       " effectiveness_ends_at = NULL WHERE id = $1",
                       e.originator_id, CaseStatus.CLOSED.value, e.at)


class CapaCases(Projection):
    name = "capa_cases"
    tables = {"capa_cases": CASES, "capa_actions": ACTIONS}

    def handlers(self) -> dict[type, Apply]:
        return {
            CapaCase.Opened: _opened,
            CapaCase.RootCauseRecorded: _root_cause,
            CapaCase.ActionAdded: _action_added,
            CapaCase.ActionCompleted: _action_status(ActionStatus.COMPLETED),
            CapaCase.ActionVerified: _action_status(ActionStatus.VERIFIED),
            CapaCase.ActionReopened: _action_status(ActionStatus.OPEN),
            CapaCase.EffectivenessWindowStarted: _window_started,
            CapaCase.EffectivenessFailed: _effectiveness_failed,
            CapaCase.Closed: _closed,
            RecurringCase.Recurred: _recurred,  # back to analysis
            DrillCase.MarkedDrill: _drill,
            ObservedCase.EffectivenessHeldOpen: _held_open,
            ObservedCase.MetricResumed: _metric_resumed,
        }
