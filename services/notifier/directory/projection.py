"""Read tables of the organisation: people, teams and units, for lists and filters. Every
write sets absolute values from the event, so a replay of the log rebuilds the same rows."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.notifier.directory.people import Person
from services.notifier.directory.teams import Team
from services.notifier.directory.units import Unit
from shared.readmodels import Apply, Projection


class DirectoryProjection(Projection):
    name = "directory"
    tables = {
        "people": """
            CREATE TABLE IF NOT EXISTS people (
                id uuid PRIMARY KEY,
                handle text NOT NULL UNIQUE,
                name text NOT NULL,
                language text NOT NULL,
                time_zone text NOT NULL,
                working_hours jsonb,
                contacts jsonb NOT NULL,
                "left" boolean NOT NULL DEFAULT false,
                left_at timestamptz,
                left_why text,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                updated_by text NOT NULL
            )""",
        "teams": """
            CREATE TABLE IF NOT EXISTS teams (
                id uuid PRIMARY KEY,
                name text NOT NULL UNIQUE,
                members text[] NOT NULL,
                schedule text,
                disbanded boolean NOT NULL DEFAULT false,
                disbanded_why text,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                updated_by text NOT NULL
            )""",
        "units": """
            CREATE TABLE IF NOT EXISTS units (
                id uuid PRIMARY KEY,
                key text NOT NULL UNIQUE,
                name text NOT NULL,
                parent text,
                roles jsonb NOT NULL,
                entities text[] NOT NULL,
                removed boolean NOT NULL DEFAULT false,
                removed_why text,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                updated_by text NOT NULL
            );
            CREATE INDEX IF NOT EXISTS units_parent ON units (parent)""",
    }

    def handlers(self) -> dict[type, Apply]:
        return {
            Person.Joined: person_joined,
            Person.Revised: person_revised,
            Person.Left: person_left(True),
            Person.CameBack: person_left(False),
            Team.Formed: team_defined,
            Team.Revised: team_defined,
            Team.Reformed: team_defined,
            Team.Disbanded: removed("teams", "disbanded"),
            Unit.Defined: unit_defined,
            Unit.Revised: unit_defined,
            Unit.Restored: unit_defined,
            Unit.Removed: removed("units", "removed"),
        }


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


async def person_joined(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        """INSERT INTO people (id, handle, name, language, time_zone, working_hours, contacts,
                               created_at, updated_at, updated_by)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $8, $9)
           ON CONFLICT (id) DO NOTHING""",
        e.originator_id, e.handle, e.name, e.language, e.time_zone, _json(e.working_hours),
        _json(e.contacts), e.at, e.actor)


async def person_revised(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE people SET name = $2, language = $3, time_zone = $4, working_hours = $5::jsonb, "
        "contacts = $6::jsonb, updated_at = $7, updated_by = $8 WHERE id = $1",
        e.originator_id, e.name, e.language, e.time_zone, _json(e.working_hours),
        _json(e.contacts), e.at, e.actor)


def person_left(left: bool) -> Apply:
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        await conn.execute(
            'UPDATE people SET "left" = $2, left_at = $3, left_why = $4, updated_at = $5, '
            "updated_by = $6 WHERE id = $1",
            e.originator_id, left, e.at if left else None, e.why if left else None, e.at,
            e.actor)
    return apply


async def team_defined(conn: asyncpg.Connection, e: Any) -> None:
    # Formed carries the name; later events keep the row's.
    await conn.execute(
        """INSERT INTO teams (id, name, members, schedule, created_at, updated_at, updated_by)
           VALUES ($1, $2, $3, $4, $5, $5, $6)
           ON CONFLICT (id) DO UPDATE SET members = EXCLUDED.members,
               schedule = EXCLUDED.schedule, disbanded = false, disbanded_why = NULL,
               updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by""",
        e.originator_id, getattr(e, "name", ""), list(e.members), e.schedule, e.at, e.actor)


async def unit_defined(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        """INSERT INTO units (id, key, name, parent, roles, entities, created_at, updated_at,
                              updated_by)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $7, $8)
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, parent = EXCLUDED.parent,
               roles = EXCLUDED.roles, entities = EXCLUDED.entities, removed = false,
               removed_why = NULL, updated_at = EXCLUDED.updated_at,
               updated_by = EXCLUDED.updated_by""",
        e.originator_id, getattr(e, "key", ""), e.name, e.parent, _json(e.roles),
        list(e.entities), e.at, e.actor)


def removed(table: str, flag: str) -> Apply:
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        await conn.execute(
            f"UPDATE {table} SET {flag} = true, {flag}_why = $2, updated_at = $3, "
            "updated_by = $4 WHERE id = $1",
            e.originator_id, e.why, e.at, e.actor)
    return apply
