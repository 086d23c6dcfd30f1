"""The board's read model: one card row per incident with what the `incidents` table does not
hold (unit path, type, source, description, planned closure) and the searchable text, which
takes in the progress notes and resolution summaries too, so a word in a note finds its
incident with one indexed condition on one table (docs/adr/board-and-search.md). This table
and `incidents` tell listeners of every changed row (NOTIFY, board_feed.py)."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from shared.readmodels import Apply, Projection, quoted
from shared.row_writes import own_rows

from services.incidents.board_search import grams, searchable
from services.incidents.domain import Incident
from services.incidents.domain.sla import incident_type

# Fires after a row of `incidents` or `board_cards` changes; the channel is the service's
# (`board:<schema>`) so two services or test runs sharing a database do not hear each other.
# PostgreSQL folds a transaction's identical notifications into one, and sends them at commit.
CHANGED_DDL = """
CREATE OR REPLACE FUNCTION board_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('board:' || split_part(TG_TABLE_SCHEMA, '__', 1),
                      json_build_object('id', NEW.id, 'ref', NEW.ref)::text);
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER {table}_board_changed AFTER INSERT OR UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION board_changed();
"""


def changed_trigger(table: str) -> str:
    return CHANGED_DDL.replace("{table}", table)


# The whole board's counts per column (and severity), kept by a trigger on `incidents`: the
# unfiltered board, the screen most often open, then counts eight rows instead of every
# incident. Dynamic SQL names the trigger's own schema: each read-model version its own.
COUNTS_DDL = """
CREATE TABLE IF NOT EXISTS board_counts (
    status text NOT NULL,
    severity text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (status, severity)
);
CREATE OR REPLACE FUNCTION board_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        EXECUTE format('UPDATE %I.board_counts SET n = n - 1 WHERE status = $1 '
                       'AND severity = $2', TG_TABLE_SCHEMA) USING OLD.status, OLD.severity;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE format('INSERT INTO %I.board_counts AS b (status, severity, n) '
                       'VALUES ($1, $2, 1) ON CONFLICT (status, severity) '
                       'DO UPDATE SET n = b.n + 1', TG_TABLE_SCHEMA)
            USING NEW.status, NEW.severity;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER incidents_board_count
    AFTER INSERT OR DELETE OR UPDATE OF status, severity ON incidents
    FOR EACH ROW EXECUTE FUNCTION board_count();
"""


def on_incidents() -> str:
    """What the board adds to the `incidents` table's statements: change notifications and
    the column counts."""
    return changed_trigger("incidents") + COUNTS_DDL


def channel(service_schema: str) -> str:
    return f"board:{service_schema}"


BOARD_DDL = """
CREATE TABLE IF NOT EXISTS board_cards (
    id uuid PRIMARY KEY,
    ref text NOT NULL,
    opened_at timestamptz NOT NULL,
    entity text NOT NULL,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    type text,
    source text,
    unit_path jsonb NOT NULL DEFAULT '[]',
    unit_keys text[] NOT NULL DEFAULT '{}',
    planned_close_at timestamptz,
    planned_by text
);
CREATE INDEX IF NOT EXISTS board_cards_units ON board_cards USING gin (unit_keys);
CREATE INDEX IF NOT EXISTS board_cards_type ON board_cards (type);
CREATE INDEX IF NOT EXISTS board_cards_source ON board_cards (source);
CREATE INDEX IF NOT EXISTS board_cards_entity ON board_cards (entity);
-- `overdue` joins each open incident's planned closure: read from this index alone, not the
-- card rows (measured: 280 ms became 100 ms over 20,000 open incidents, bench_board).
CREATE INDEX IF NOT EXISTS board_cards_planned ON board_cards (id) INCLUDE (planned_close_at);
""" + changed_trigger("board_cards")

# The searchable text apart from the cards: the cards stay narrow for the filters and the
# counts, the search reads only this. search_text also gets a pg_trgm GIN index where the
# extension exists (BoardProjection.create).
SEARCH_DDL = """
CREATE TABLE IF NOT EXISTS board_search (
    id uuid PRIMARY KEY,
    search_text text NOT NULL,
    search_grams text[] NOT NULL
);
CREATE INDEX IF NOT EXISTS board_search_grams ON board_search USING gin (search_grams);
"""

class BoardProjection(Projection):
    name = "board"
    tables = {"board_cards": BOARD_DDL, "board_search": SEARCH_DDL}

    def handlers(self) -> dict[type, Apply]:
        return {
            Incident.Opened: opened,
            Incident.Staffed: staffed,
            Incident.Reclassified: reclassified,
            Incident.ClosurePlanned: closure_planned,
            Incident.ProgressPosted: progress_posted,
            Incident.Resolved: resolved,
        }

    async def create(self, conn: asyncpg.Connection, service_schema: str) -> None:
        await super().create(conn, service_schema)
        trgm = await trigram_schema(conn, service_schema)
        if trgm is not None:
            version = quoted(self.version_schema(service_schema))
            await conn.execute(
                f"CREATE INDEX IF NOT EXISTS board_search_trgm ON {version}.board_search "
                f"USING gin (search_text {quoted(trgm)}.gin_trgm_ops)")


async def trigram_schema(conn: asyncpg.Connection, service_schema: str) -> str | None:
    """The schema pg_trgm lives in, installing it in the service's schema if it is missing;
    None where the server has no pg_trgm (the CJK grams still index; Latin substrings are
    then found by scanning, see the ADR)."""
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('closedloop:pg_trgm'))")
            found = await conn.fetchval(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'")
            if found is None:
                await conn.execute(
                    f"CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA {quoted(service_schema)}")
                found = service_schema
            return found
    except asyncpg.PostgresError:
        return None


def unit_names(path: list[dict[str, str]]) -> list[str]:
    return [u.get("name") or u["key"] for u in path]


def card_text(ref: str, entity: str, title: str, description: str,
              path: list[dict[str, str]], notes: str = "") -> tuple[str, list[str]]:
    """The card's search text and its grams: names, title, description, units, then the
    notes (each appended as it comes, after a line holding only a tab)."""
    text = searchable(ref, entity, title, description, *unit_names(path))
    text += NOTES + notes if notes else ""
    return text, grams(text)


NOTES = "\n\t\n"  # where the notes start in search_text (never in a normalised name)
CARD_TEXT = ("SELECT ref, entity, title, description, search_text FROM board_cards "
             "JOIN board_search USING (id) WHERE id = $1")
SET_TEXT = """INSERT INTO board_search (id, search_text, search_grams) VALUES ($1, $2, $3)
              ON CONFLICT (id) DO UPDATE SET search_text = EXCLUDED.search_text,
                                             search_grams = EXCLUDED.search_grams"""


@own_rows
async def opened(conn: asyncpg.Connection, e: Any) -> None:
    alert = e.alert or {}
    intake = alert.get("intake") or {}
    description = intake.get("description") or alert.get("summary") or ""
    kind = intake.get("problem_type") or incident_type(alert)
    source = intake.get("source") or alert.get("source")
    text, keys = card_text(e.ref, e.entity, e.title, description, [])
    await conn.execute(
        """INSERT INTO board_cards (id, ref, opened_at, entity, title, description, type, source)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (id) DO UPDATE SET ref = EXCLUDED.ref, opened_at = EXCLUDED.opened_at,
               entity = EXCLUDED.entity, title = EXCLUDED.title,
               description = EXCLUDED.description, type = EXCLUDED.type,
               source = EXCLUDED.source, unit_path = '[]', unit_keys = '{}',
               planned_close_at = NULL, planned_by = NULL""",
        e.originator_id, e.ref, e.at, e.entity, e.title, description, kind, source)
    await conn.execute(SET_TEXT, e.originator_id, text, keys)


async def staffed(conn: asyncpg.Connection, e: Any) -> None:
    path = getattr(e, "unit_path", None) or []
    if not path:
        return
    row = await conn.fetchrow(CARD_TEXT, e.originator_id)
    if row is None:
        return
    _, _, notes = row["search_text"].partition(NOTES)
    text, keys = card_text(row["ref"], row["entity"], row["title"], row["description"], path,
                           notes)
    # Filtering by a unit finds everything under it: the keys and names of the whole path.
    units = sorted({u["key"] for u in path} | set(unit_names(path)))
    await conn.execute("UPDATE board_cards SET unit_path = $2, unit_keys = $3 WHERE id = $1",
                       e.originator_id, json.dumps(path, ensure_ascii=False), units)
    await conn.execute(SET_TEXT, e.originator_id, text, keys)


async def reclassified(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE board_cards SET type = $2 WHERE id = $1",
                       e.originator_id, e.problem_type)


async def closure_planned(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE board_cards SET planned_close_at = $2, planned_by = $3 "
                       "WHERE id = $1", e.originator_id, e.planned_close_at, e.by)


async def _note(conn: asyncpg.Connection, e: Any, text: str) -> None:
    """The note joins the card's search text: one table, one index, whichever word is asked."""
    row = await conn.fetchrow(CARD_TEXT, e.originator_id)
    if row is None:
        return
    stored = row["search_text"]
    stored += ("\n" if NOTES in stored else NOTES) + searchable(text)
    await conn.execute(SET_TEXT, e.originator_id, stored, grams(stored))


async def progress_posted(conn: asyncpg.Connection, e: Any) -> None:
    await _note(conn, e, e.text)


async def resolved(conn: asyncpg.Connection, e: Any) -> None:
    if e.summary:
        await _note(conn, e, e.summary)
