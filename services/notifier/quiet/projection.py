"""Read model of the quiet rules: silences (filtered by state with the caller's clock),
maintenance windows and inhibition rules (the routing tree is one aggregate, read whole). Writes set absolute values, so a
replay rebuilds the same rows."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.notifier.quiet.inhibitions import InhibitionRule
from services.notifier.quiet.silences import Silence
from services.notifier.quiet.windows import MaintenanceWindow
from shared.readmodels import Apply, Projection

RULE_COLUMNS = """
                id uuid PRIMARY KEY,
                name text NOT NULL UNIQUE,
                definition jsonb NOT NULL,
                created_at timestamptz NOT NULL,
                created_by text NOT NULL,
                updated_at timestamptz NOT NULL,
                updated_by text NOT NULL"""


class QuietProjection(Projection):
    name = "quiet"
    tables = {
        "silences": """
            CREATE TABLE IF NOT EXISTS silences (
                id uuid PRIMARY KEY,
                matchers text[] NOT NULL,
                starts_at timestamptz NOT NULL,
                ends_at timestamptz NOT NULL,
                created_by text NOT NULL,
                comment text NOT NULL,
                expired_by text,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL
            );
            CREATE INDEX IF NOT EXISTS silences_ends ON silences (ends_at)""",
        "maintenance_windows": f"CREATE TABLE IF NOT EXISTS maintenance_windows ({RULE_COLUMNS})",
        "inhibition_rules": f"CREATE TABLE IF NOT EXISTS inhibition_rules ({RULE_COLUMNS})",
    }

    def handlers(self) -> dict[type, Apply]:
        return {
            Silence.Created: silence_created,
            Silence.Expired: silence_expired,
            MaintenanceWindow.Defined: rule_written("maintenance_windows"),
            MaintenanceWindow.Revised: rule_written("maintenance_windows"),
            MaintenanceWindow.Deleted: rule_deleted("maintenance_windows"),
            InhibitionRule.Defined: rule_written("inhibition_rules"),
            InhibitionRule.Revised: rule_written("inhibition_rules"),
            InhibitionRule.Deleted: rule_deleted("inhibition_rules"),
        }


async def silence_created(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        """INSERT INTO silences (id, matchers, starts_at, ends_at, created_by, comment,
                                 created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
           ON CONFLICT (id) DO UPDATE SET starts_at = EXCLUDED.starts_at,
               ends_at = EXCLUDED.ends_at, expired_by = NULL, updated_at = EXCLUDED.updated_at""",
        e.originator_id, list(e.matchers), e.starts_at, e.ends_at, e.created_by, e.comment,
        e.at)


async def silence_expired(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE silences SET starts_at = $2, ends_at = $3, expired_by = $4, updated_at = $5 "
        "WHERE id = $1", e.originator_id, e.starts_at, e.ends_at, e.actor, e.at)


def rule_written(table: str) -> Apply:
    # A name is unique among live rules; a deleted one's row is gone, so its name is free.
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        await conn.execute(
            f"""INSERT INTO {table} (id, name, definition, created_at, created_by, updated_at,
                                     updated_by)
                VALUES ($1, $2, $3::jsonb, $4, $5, $4, $5)
                ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
                    definition = EXCLUDED.definition, updated_at = EXCLUDED.updated_at,
                    updated_by = EXCLUDED.updated_by""",
            e.originator_id, e.definition["name"], json.dumps(e.definition), e.at, e.actor)
    return apply


def rule_deleted(table: str) -> Apply:
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        await conn.execute(f"DELETE FROM {table} WHERE id = $1", e.originator_id)
    return apply
