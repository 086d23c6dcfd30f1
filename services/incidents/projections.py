"""The `incidents` table behind GET /v1/incidents: one row per incident, rewritten exactly by
replaying the log (inserts upsert, updates set absolute values)."""
from __future__ import annotations

from typing import Any

import asyncpg

from shared.readmodels import Apply, Projection
from shared.row_writes import own_rows

from services.incidents.domain import Incident, Status
from services.incidents.board_views import on_incidents
from services.incidents.cadence_views import CADENCE_COLUMNS, CADENCE_ROWS
from services.incidents.closing_views import CLOSING_ROWS
from services.incidents.lifecycle_views import LIFECYCLE_ROWS
from services.incidents.sla_views import SLA_COLUMNS, SLA_ROWS, opened_clocks

INCIDENTS_DDL = """
CREATE TABLE IF NOT EXISTS incidents (
    id uuid PRIMARY KEY,
    ref text NOT NULL UNIQUE,
    status text NOT NULL,
    severity text NOT NULL,
    title text NOT NULL,
    entity text NOT NULL,
    fingerprint text NOT NULL,
    opened_at timestamptz NOT NULL,
    acknowledged_at timestamptz,
    resolved_at timestamptz,
    closed_at timestamptz,
    respond_by timestamptz NOT NULL,
    resolve_by timestamptz NOT NULL,
    respond_breached boolean NOT NULL DEFAULT false,
    resolve_breached boolean NOT NULL DEFAULT false,{sla}{cadence}
    responsible text,
    accountable text,
    capa_id text,
    drill boolean NOT NULL DEFAULT false,
    observe_ends_at timestamptz
);
CREATE INDEX IF NOT EXISTS incidents_observing ON incidents (observe_ends_at)
    WHERE status = 'observing';
CREATE INDEX IF NOT EXISTS incidents_open_deadlines ON incidents (respond_by, resolve_by)
    WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS incidents_status_severity ON incidents (status, severity, opened_at DESC);
CREATE INDEX IF NOT EXISTS incidents_opened_at ON incidents (opened_at DESC);
CREATE INDEX IF NOT EXISTS incidents_board ON incidents (status, opened_at DESC, ref DESC);
""".replace("{sla}", SLA_COLUMNS).replace("{cadence}", CADENCE_COLUMNS) \
    + on_incidents()  # the board: live feed, counts


class IncidentsProjection(Projection):
    name = "incidents"
    tables = {"incidents": INCIDENTS_DDL}

    def handlers(self) -> dict[type, Apply]:
        return {
            Incident.Opened: opened,
            Incident.Acknowledged: acknowledged,
            Incident.Resolved: resolved,
            Incident.CapaOpened: capa_opened,
            Incident.CapaStepRecorded: capa_step,
            Incident.SlaBreached: sla_breached,
            Incident.RoleAssigned: role_assigned,
            Incident.Staffed: staffed,
            Incident.ActionVerified: action_verified,
            Incident.Closed: closed,
            Incident.Archived: archived,
            **CLOSING_ROWS,
            **LIFECYCLE_ROWS,
            **SLA_ROWS,
            **CADENCE_ROWS,
        }


@own_rows
async def opened(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        """INSERT INTO incidents (id, ref, status, severity, title, entity, fingerprint,
                                  opened_at, respond_by, resolve_by, drill)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (id) DO UPDATE SET
               ref = EXCLUDED.ref, status = EXCLUDED.status, severity = EXCLUDED.severity,
               title = EXCLUDED.title, entity = EXCLUDED.entity,
               fingerprint = EXCLUDED.fingerprint, opened_at = EXCLUDED.opened_at,
               respond_by = EXCLUDED.respond_by, resolve_by = EXCLUDED.resolve_by,
               acknowledged_at = NULL, resolved_at = NULL, closed_at = NULL, capa_id = NULL,
               respond_breached = false, resolve_breached = false,
               responsible = NULL, accountable = NULL, drill = EXCLUDED.drill,
               observe_ends_at = NULL""",
        e.originator_id, e.ref, str(Status.NEW), e.severity, e.title, e.entity, e.fingerprint,
        e.at, e.respond_by, e.resolve_by, bool(e.alert.get("drill", False)))
    await opened_clocks(conn, e)


@own_rows
async def acknowledged(conn: asyncpg.Connection, e: Any) -> None:
    # Acknowledged again after a re-trigger: the response time stays the first one.
    await conn.execute("UPDATE incidents SET status = $2, "
                       "acknowledged_at = coalesce(acknowledged_at, $3) WHERE id = $1",
                       e.originator_id, e.status, e.at)


@own_rows
async def resolved(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET status = $2, resolved_at = $3 WHERE id = $1",
                       e.originator_id, e.status, e.at)


@own_rows
async def capa_opened(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET status = $2, capa_id = $3 WHERE id = $1",
                       e.originator_id, e.status, e.capa_id)


@own_rows
async def role_assigned(conn: asyncpg.Connection, e: Any) -> None:
    if e.role in ("responsible", "accountable"):  # the list shows who does and who answers
        await conn.execute(f"UPDATE incidents SET {e.role} = $2 WHERE id = $1",
                           e.originator_id, e.person)


@own_rows
async def staffed(conn: asyncpg.Connection, e: Any) -> None:
    for role in ("responsible", "accountable"):  # the list shows the first of each
        if e.raci.get(role):
            await conn.execute(f"UPDATE incidents SET {role} = $2 WHERE id = $1",
                               e.originator_id, e.raci[role][0])


@own_rows
async def sla_breached(conn: asyncpg.Connection, e: Any) -> None:
    column = {"respond": "respond_breached", "resolve": "resolve_breached",
              "close": "close_breached"}[e.kind]
    await conn.execute(f"UPDATE incidents SET {column} = true WHERE id = $1", e.originator_id)


@own_rows
async def capa_step(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET status = $2 WHERE id = $1", e.originator_id, e.status)


@own_rows
async def action_verified(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE incidents SET status = $2, capa_id = COALESCE(capa_id, $3) WHERE id = $1",
        e.originator_id, e.status, e.capa_id)


@own_rows
async def closed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE incidents SET status = $2, closed_at = $3, capa_id = COALESCE(capa_id, $4) "
        "WHERE id = $1", e.originator_id, str(Status.CLOSED), e.at, e.capa_id)


@own_rows
async def archived(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET status = $2 WHERE id = $1",
                       e.originator_id, str(Status.ARCHIVED))

