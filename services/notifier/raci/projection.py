"""Read model of the late-stage chases: one row per deadline with the phase due next and
when. The chase_due worker finds due rows here; writes set absolute values, so a replay
rebuilds the same rows."""
from __future__ import annotations

from typing import Any

import asyncpg

from services.notifier.raci.deadline import Deadline, DeadlineStatus, Phase
from shared.readmodels import Apply, Projection


class DeadlinesProjection(Projection):
    name = "deadlines"
    tables = {
        "deadlines": """
            CREATE TABLE IF NOT EXISTS deadlines (
                id uuid PRIMARY KEY,
                incident_id text NOT NULL,
                ref text NOT NULL,
                key text NOT NULL,
                kind text NOT NULL,
                subject text,
                status text NOT NULL,
                due_at timestamptz NOT NULL,
                next_phase text,
                next_at timestamptz,
                fired text[] NOT NULL DEFAULT '{}',
                met_why text,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX IF NOT EXISTS deadlines_due ON deadlines (next_at)
                WHERE status = 'waiting';
            CREATE INDEX IF NOT EXISTS deadlines_incident ON deadlines (incident_id)""",
    }

    def handlers(self) -> dict[type, Apply]:
        return {Deadline.Set: deadline_set, Deadline.Chased: chased, Deadline.Met: met,
                Deadline.Moved: moved, Deadline.Restarted: restarted,
                Deadline.Held: held, Deadline.Released: released}


async def deadline_set(conn: asyncpg.Connection, e: Any) -> None:
    first = Phase.WARNING if e.warn_at is not None else Phase.DEADLINE
    await conn.execute(
        """INSERT INTO deadlines (id, incident_id, ref, key, kind, subject, status, due_at,
                                  next_phase, next_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, 'waiting', $7, $8, $9, $10)
           ON CONFLICT (id) DO UPDATE SET status = 'waiting', next_phase = EXCLUDED.next_phase,
               next_at = EXCLUDED.next_at, fired = '{}', met_why = NULL,
               updated_at = EXCLUDED.updated_at""",
        e.originator_id, e.incident_id, e.incident["ref"], e.key, e.kind, e.subject, e.due_at,
        str(first), e.warn_at or e.due_at, e.at)


async def chased(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        """UPDATE deadlines SET fired = array_append(fired, $2), next_phase = $3,
               next_at = $4, status = CASE WHEN $3::text IS NULL THEN $5 ELSE status END,
               updated_at = $6
           WHERE id = $1 AND NOT ($2 = ANY(fired))""",
        e.originator_id, e.phase, e.next_phase, e.next_at, str(DeadlineStatus.DONE), e.at)


async def moved(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deadlines SET due_at = $2, next_phase = $3, next_at = $4, updated_at = $5 "
        "WHERE id = $1 AND status = 'waiting'",
        e.originator_id, e.due_at, e.next_phase, e.next_at, e.at)


async def held(conn: asyncpg.Connection, e: Any) -> None:
    # No next time while held: the chase_due worker does not see it until it is released.
    await conn.execute(
        "UPDATE deadlines SET next_at = NULL, updated_at = $2 WHERE id = $1 "
        "AND status = 'waiting'", e.originator_id, e.at)


async def released(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deadlines SET due_at = $2, next_at = $3, updated_at = $4 "
        "WHERE id = $1 AND status = 'waiting'",
        e.originator_id, e.due_at, e.next_at, e.at)


async def restarted(conn: asyncpg.Connection, e: Any) -> None:
    # A restart names a new subject when it gives one ("" for none), else keeps it.
    await conn.execute(
        "UPDATE deadlines SET status = 'waiting', due_at = $2, next_phase = $3, next_at = $4, "
        "fired = '{}', met_why = NULL, updated_at = $5, "
        "subject = CASE WHEN $6::text IS NULL THEN subject ELSE NULLIF($6, '') END "
        "WHERE id = $1",
        e.originator_id, e.due_at, e.next_phase, e.next_at, e.at, getattr(e, "subject", None))


async def met(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deadlines SET status = $2, met_why = $3, next_phase = NULL, next_at = NULL, "
        "updated_at = $4 WHERE id = $1",
        e.originator_id, str(DeadlineStatus.MET), e.why, e.at)
