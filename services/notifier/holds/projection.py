"""Read model of the openings: the firing set (incidents whose alert fires, with their
labels) and the held incidents the release worker looks at again when `recheck_at` passes.
A change to the rule holding an incident (a silence expired early, a window or inhibition
rule changed or deleted, an inhibiting incident resolved) makes it due at once. Writes set
absolute values, so a replay rebuilds the same rows."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.notifier.holds.opening import Opening
from services.notifier.quiet.inhibitions import InhibitionRule
from services.notifier.quiet.silences import Silence
from services.notifier.quiet.windows import MaintenanceWindow
from shared.readmodels import Apply, Projection


class OpeningsProjection(Projection):
    name = "openings"
    tables = {
        "openings": """
            CREATE TABLE IF NOT EXISTS openings (
                id uuid PRIMARY KEY,
                incident_id text NOT NULL UNIQUE,
                ref text NOT NULL,
                labels jsonb NOT NULL,
                status text NOT NULL,
                firing boolean NOT NULL,
                hold_kind text,
                hold_id text,
                source_incident_id text,
                recheck_at timestamptz,
                version integer NOT NULL,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX IF NOT EXISTS openings_due ON openings (recheck_at)
                WHERE status = 'held';
            CREATE INDEX IF NOT EXISTS openings_hold ON openings (hold_id)
                WHERE status = 'held';
            CREATE INDEX IF NOT EXISTS openings_source ON openings (source_incident_id)
                WHERE status = 'held';
            CREATE INDEX IF NOT EXISTS openings_firing ON openings USING gin (labels)
                WHERE firing""",
    }

    def handlers(self) -> dict[type, Apply]:
        return {
            Opening.Recorded: recorded,
            Opening.Rechecked: rechecked,
            Opening.Released: finished("released"),
            Opening.Dropped: finished("dropped"),
            Opening.Ended: ended,
            Silence.Expired: rule_changed,
            MaintenanceWindow.Revised: rule_changed,
            MaintenanceWindow.Deleted: rule_changed,
            InhibitionRule.Revised: rule_changed,
            InhibitionRule.Deleted: rule_changed,
        }


def _hold_columns(hold: dict | None) -> tuple:
    if hold is None:
        return None, None, None
    return hold["kind"], hold.get("id"), hold.get("source_incident_id")


async def recorded(conn: asyncpg.Connection, e: Any) -> None:
    status = "told" if e.hold is None else "trial" if e.trial else "held"
    await conn.execute(
        """INSERT INTO openings (id, incident_id, ref, labels, status, firing, hold_kind,
                                 hold_id, source_incident_id, recheck_at, version, updated_at)
           VALUES ($12, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (id) DO UPDATE SET labels = EXCLUDED.labels,
               status = EXCLUDED.status, firing = EXCLUDED.firing,
               hold_kind = EXCLUDED.hold_kind, hold_id = EXCLUDED.hold_id,
               source_incident_id = EXCLUDED.source_incident_id,
               recheck_at = EXCLUDED.recheck_at, version = EXCLUDED.version,
               updated_at = EXCLUDED.updated_at""",
        e.incident["incident_id"], e.incident["ref"], json.dumps(e.labels), status,
        not e.trial, *_hold_columns(e.hold), e.recheck_at, e.originator_version, e.at,
        e.originator_id)
    if status == "held":  # only a held opening waits on a source
        await _source_gone(conn, e)


async def rechecked(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE openings SET hold_kind = $2, hold_id = $3, source_incident_id = $4, "
        "recheck_at = $5, version = $6, updated_at = $7 WHERE id = $1",
        e.originator_id, *_hold_columns(e.hold), e.recheck_at, e.originator_version, e.at)
    await _source_gone(conn, e)


async def _source_gone(conn: asyncpg.Connection, e: Any) -> None:
    # An inhibiting incident that ended between the decision and its commit: its Ended came
    # first in the log and marked nothing, so the hold is looked at again now.
    await conn.execute(
        """UPDATE openings o SET recheck_at = $2
           WHERE o.id = $1 AND o.status = 'held' AND o.source_incident_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM openings s
                             WHERE s.incident_id = o.source_incident_id AND s.firing)""",
        e.originator_id, e.at)


def finished(status: str) -> Apply:
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        await conn.execute(
            "UPDATE openings SET status = $2, recheck_at = NULL, version = $3, updated_at = $4 "
            "WHERE id = $1", e.originator_id, status, e.originator_version, e.at)
    return apply


async def ended(conn: asyncpg.Connection, e: Any) -> None:
    incident_id = await conn.fetchval(
        "UPDATE openings SET firing = false, status = CASE WHEN $2 THEN 'dropped' ELSE status "
        "END, recheck_at = CASE WHEN $2 THEN NULL ELSE recheck_at END, version = $3, "
        "updated_at = $4 WHERE id = $1 RETURNING incident_id",
        e.originator_id, e.dropped, e.originator_version, e.at)
    # What it inhibited is looked at again now.
    await conn.execute(
        "UPDATE openings SET recheck_at = $2 WHERE status = 'held' AND source_incident_id = $1",
        incident_id, e.at)


async def rule_changed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE openings SET recheck_at = $2 WHERE status = 'held' AND hold_id = $1",
        str(e.originator_id), e.at)
