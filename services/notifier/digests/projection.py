"""Read model of the digests: the send worker's due list, and what GET /v1/digests shows.
Writes set absolute values (an incident's status is set under its id), so a replay of the
log rebuilds the same rows."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.notifier.digests.aggregate import Digest
from shared.readmodels import Apply, Projection


class DigestsProjection(Projection):
    name = "digests"
    tables = {
        "digests": """
            CREATE TABLE IF NOT EXISTS digests (
                id uuid PRIMARY KEY,
                every text NOT NULL,
                recipient text NOT NULL,
                person text,
                channel_name text NOT NULL,
                time_zone text NOT NULL,
                period_start timestamptz NOT NULL,
                due_at timestamptz NOT NULL,
                status text NOT NULL,
                incidents jsonb NOT NULL,
                counts jsonb,
                delivery_id text,
                sent_at timestamptz,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX IF NOT EXISTS digests_due ON digests (due_at)
                WHERE status = 'collecting';
            CREATE INDEX IF NOT EXISTS digests_person ON digests (person, due_at)""",
    }

    def handlers(self) -> dict[type, Apply]:
        return {Digest.Started: started, Digest.Noted: noted, Digest.Sent: sent}


async def started(conn: asyncpg.Connection, e: Any) -> None:
    recipient = e.recipient
    await conn.execute(
        """INSERT INTO digests (id, every, recipient, person, channel_name, time_zone,
                                period_start, due_at, status, incidents, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'collecting', '{}'::jsonb, $9)
           ON CONFLICT (id) DO NOTHING""",
        e.originator_id, e.every, recipient["key"],
        (recipient.get("person") or {}).get("handle"), recipient["channel_name"],
        recipient["time_zone"], e.period_start, e.period_end, e.at)


async def noted(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE digests SET incidents = incidents || jsonb_build_object($2::text, $3::text), "
        "updated_at = $4 WHERE id = $1",
        e.originator_id, e.item["incident_id"], e.item["status"], e.at)


async def sent(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE digests SET status = 'sent', counts = $2, delivery_id = $3, sent_at = $4, "
        "updated_at = $4 WHERE id = $1",
        e.originator_id, json.dumps(e.counts), e.delivery_id, e.at)
