"""The `deliveries` read model: one row per delivery with its latest status, where the
delivery worker finds what is due (every write sets absolute values)."""
from __future__ import annotations

from typing import Any

import asyncpg

from shared.row_writes import own_rows


@own_rows
async def delivery_scheduled(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        """INSERT INTO deliveries (id, incident_id, ref, channel_id, channel_name, reason,
                                   person, target, status, attempts, next_attempt_at,
                                   created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $8, $9, 'pending', 0, $7, $7, $7)
           ON CONFLICT (id) DO UPDATE SET status = 'pending', attempts = 0,
               last_status_code = NULL, last_error = NULL, last_error_class = NULL,
               next_attempt_at = EXCLUDED.next_attempt_at, updated_at = EXCLUDED.updated_at""",
        e.originator_id, e.incident_id, e.ref, e.channel_id, e.channel_name, e.reason, e.at,
        (getattr(e, "recipient", None) or {}).get("handle"), getattr(e, "target", None))


@own_rows
async def attempt_started(conn: asyncpg.Connection, e: Any) -> None:
    # While an attempt is in flight, next_attempt_at is the end of its lease: past it, a
    # worker records the attempt as interrupted.
    await conn.execute(
        "UPDATE deliveries SET status = 'sending', attempts = $2, next_attempt_at = $3, "
        "updated_at = $4 WHERE id = $1",
        e.originator_id, e.attempt, e.lease_until, e.at)


@own_rows
async def attempt_failed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = $2, last_status_code = $3, last_error = $4, "
        "last_error_class = $5, next_attempt_at = $6, updated_at = $7 WHERE id = $1",
        e.originator_id, "retrying" if e.next_attempt_at else "failed", e.status_code,
        e.error, getattr(e, "error_class", "unknown"), e.next_attempt_at, e.at)


@own_rows
async def delivery_throttled(conn: asyncpg.Connection, e: Any) -> None:
    # 'retrying' in the read model: due again at `until`, the row the worker looks for.
    await conn.execute(
        "UPDATE deliveries SET status = 'retrying', last_error = $2, last_error_class = "
        "'throttled', next_attempt_at = $3, updated_at = $4 WHERE id = $1",
        e.originator_id, e.why, e.until, e.at)


@own_rows
async def delivery_folded(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'folded', last_error = $2, last_error_class = "
        "'throttled', next_attempt_at = NULL, updated_at = $3 WHERE id = $1",
        e.originator_id, e.why, e.at)


@own_rows
async def delivery_skipped(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'skipped', last_error = $2, last_error_class = $3, "
        "next_attempt_at = NULL, updated_at = $4 WHERE id = $1",
        e.originator_id, e.why, e.error_class, e.at)


@own_rows
async def delivered(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'delivered', attempts = $2, last_status_code = $3, "
        "last_error = NULL, last_error_class = NULL, next_attempt_at = NULL, updated_at = $4 "
        "WHERE id = $1",
        e.originator_id, e.attempt, e.status_code, e.at)


@own_rows
async def delivery_failed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'failed', attempts = $2, next_attempt_at = NULL, "
        "updated_at = $3 WHERE id = $1",
        e.originator_id, e.attempts, e.at)
