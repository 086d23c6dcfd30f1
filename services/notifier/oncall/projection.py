"""Read model of schedules: one row per schedule for listing, and one per override, so the
people a schedule can put on call (members, added and replacing people) are found by query."""
from __future__ import annotations

from typing import Any

import asyncpg

from services.notifier.oncall.aggregate import Schedule
from shared.readmodels import Apply, Projection


class SchedulesProjection(Projection):
    name = "oncall"
    tables = {
        "schedules": """
            CREATE TABLE IF NOT EXISTS schedules (
                id uuid PRIMARY KEY,
                name text NOT NULL,
                time_zone text NOT NULL,
                description text NOT NULL,
                layers integer NOT NULL,
                members text[] NOT NULL,
                deleted boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL,
                created_by text NOT NULL,
                updated_at timestamptz NOT NULL,
                updated_by text NOT NULL
            )""",
        "schedule_overrides": """
            CREATE TABLE IF NOT EXISTS schedule_overrides (
                schedule_id uuid NOT NULL,
                id text NOT NULL,
                kind text NOT NULL,
                person text NOT NULL,
                by_person text,
                starts_at timestamptz NOT NULL,
                ends_at timestamptz NOT NULL,
                PRIMARY KEY (schedule_id, id)
            );
            CREATE INDEX IF NOT EXISTS schedule_overrides_person ON schedule_overrides (person);
            CREATE INDEX IF NOT EXISTS schedule_overrides_by ON schedule_overrides (by_person)""",
    }

    def handlers(self) -> dict[type, Apply]:
        return {
            Schedule.Defined: defined,
            Schedule.Restored: defined,
            Schedule.Revised: revised,
            Schedule.OverrideAdded: override_added,
            Schedule.OverrideRemoved: override_removed,
            Schedule.Deleted: deleted,
        }


def members(definition: dict[str, Any]) -> list[str]:
    return sorted({m for layer in definition["layers"] for m in layer["members"]})


async def defined(conn: asyncpg.Connection, e: Any) -> None:
    d = e.definition
    await conn.execute(
        """INSERT INTO schedules (id, name, time_zone, description, layers, members, deleted,
                                  created_at, created_by, updated_at, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6, false, $7, $8, $7, $8)
           ON CONFLICT (id) DO UPDATE SET time_zone = EXCLUDED.time_zone,
               description = EXCLUDED.description, layers = EXCLUDED.layers,
               members = EXCLUDED.members, deleted = false,
               updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by""",
        e.originator_id, d["name"], d["time_zone"], d["description"], len(d["layers"]),
        members(d), e.at, e.actor)
    # A restored schedule starts without overrides.
    await conn.execute("DELETE FROM schedule_overrides WHERE schedule_id = $1", e.originator_id)


async def revised(conn: asyncpg.Connection, e: Any) -> None:
    d = e.definition
    await conn.execute(
        "UPDATE schedules SET time_zone = $2, description = $3, layers = $4, members = $5, "
        "updated_at = $6, updated_by = $7 WHERE id = $1",
        e.originator_id, d["time_zone"], d["description"], len(d["layers"]), members(d),
        e.at, e.actor)


async def override_added(conn: asyncpg.Connection, e: Any) -> None:
    o = e.override
    await conn.execute(
        """INSERT INTO schedule_overrides (schedule_id, id, kind, person, by_person, starts_at, ends_at)
           VALUES ($1, $2, $3, $4, $5, $6::text::timestamptz, $7::text::timestamptz)
           ON CONFLICT (schedule_id, id) DO NOTHING""",
        e.originator_id, o["id"], o["kind"], o["person"], o["by"], o["start"], o["end"])
    await touched(conn, e)


async def override_removed(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("DELETE FROM schedule_overrides WHERE schedule_id = $1 AND id = $2",
                       e.originator_id, e.override_id)
    await touched(conn, e)


async def deleted(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE schedules SET deleted = true WHERE id = $1", e.originator_id)
    await touched(conn, e)


async def touched(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE schedules SET updated_at = $2, updated_by = $3 WHERE id = $1",
                       e.originator_id, e.at, e.actor)
