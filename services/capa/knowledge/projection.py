"""Read models of the knowledge base: one row per entry (with its vote counts) and one per
opened incident. Every write stamps a fresh `revision`, so a reader's in-memory index fetches
only what changed since it last looked."""
from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.capa.knowledge.aggregate import IncidentProfile, KnowledgeEntry
from shared.readmodels import Apply, Projection
from shared.row_writes import own_rows

ENTRIES = """
CREATE SEQUENCE IF NOT EXISTS knowledge_revision;
CREATE TABLE IF NOT EXISTS knowledge_entries (
    id uuid PRIMARY KEY,
    capa_id text NOT NULL,
    incident_id text NOT NULL,
    ref text NOT NULL,
    title text NOT NULL,
    entity text NOT NULL,
    rule text,
    labels jsonb NOT NULL,
    symptom text NOT NULL,
    investigation jsonb NOT NULL,
    fix text NOT NULL,
    prevention text NOT NULL,
    tags jsonb NOT NULL,
    root_cause text NOT NULL,
    category text,
    review_by date NOT NULL,
    useful integer NOT NULL DEFAULT 0,
    not_useful integer NOT NULL DEFAULT 0,
    author text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    revision bigint NOT NULL DEFAULT nextval('knowledge_revision')
);
CREATE INDEX IF NOT EXISTS knowledge_entries_revision ON knowledge_entries (revision)"""

VOTES = """
CREATE TABLE IF NOT EXISTS knowledge_votes (
    entry_id uuid NOT NULL,
    incident_id text NOT NULL,
    useful boolean NOT NULL,
    by text NOT NULL,
    at timestamptz NOT NULL,
    PRIMARY KEY (entry_id, incident_id)
)"""

INCIDENTS = """
CREATE TABLE IF NOT EXISTS knowledge_incidents (
    incident_id text PRIMARY KEY,
    ref text NOT NULL,
    title text NOT NULL,
    severity text NOT NULL,
    entity text NOT NULL,
    rule text,
    labels jsonb NOT NULL
)"""

JSON_COLUMNS = {"investigation", "tags", "labels"}


async def _created(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "INSERT INTO knowledge_entries (id, capa_id, incident_id, ref, title, entity, rule,"
        " labels, symptom, investigation, fix, prevention, tags, root_cause, category,"
        " review_by, author, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7,"
        " $8::jsonb, $9, $10::jsonb, $11, $12, $13::jsonb, $14, $15, $16, $17, $18, $18)"
        " ON CONFLICT (id) DO NOTHING",
        e.originator_id, e.capa_id, e.incident_id, e.ref, e.title, e.entity, e.rule,
        json.dumps(e.labels), e.symptom, json.dumps(e.investigation), e.fix, e.prevention,
        json.dumps(e.tags), e.root_cause, e.category, e.review_by, e.actor, e.at)


async def _edited(conn: asyncpg.Connection, e: Any) -> None:
    # Column names come from the aggregate's EDITABLE list (its rule), never from a request.
    names = [name for name in e.changes if name in KnowledgeEntry.EDITABLE_COLUMNS]
    sets = [f"{name} = ${i}" + ("::jsonb" if name in JSON_COLUMNS else "")
            for i, name in enumerate(names, start=3)]
    values = [json.dumps(e.changes[n]) if n in JSON_COLUMNS else e.changes[n] for n in names]
    await conn.execute(
        f"UPDATE knowledge_entries SET {', '.join([*sets, 'updated_at = $2'])},"
        " revision = nextval('knowledge_revision') WHERE id = $1",
        e.originator_id, e.at, *values)


async def _rated(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "INSERT INTO knowledge_votes (entry_id, incident_id, useful, by, at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (entry_id, incident_id)"
        " DO UPDATE SET useful = $3, by = $4, at = $5",
        e.originator_id, e.incident_id, e.useful, e.actor, e.at)
    await conn.execute(
        "UPDATE knowledge_entries SET"
        " useful = (SELECT count(*) FROM knowledge_votes WHERE entry_id = $1 AND useful),"
        " not_useful = (SELECT count(*) FROM knowledge_votes WHERE entry_id = $1 AND NOT useful),"
        " revision = nextval('knowledge_revision') WHERE id = $1", e.originator_id)


@own_rows(key=lambda e: e.incident_id)
async def _noted(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "INSERT INTO knowledge_incidents (incident_id, ref, title, severity, entity, rule,"
        " labels) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT DO NOTHING",
        e.incident_id, e.ref, e.title, e.severity, e.entity, e.rule, json.dumps(e.labels))


class KnowledgeBase(Projection):
    name = "knowledge"
    tables = {"knowledge_entries": ENTRIES, "knowledge_votes": VOTES,
              "knowledge_incidents": INCIDENTS}

    def handlers(self) -> dict[type, Apply]:
        return {
            KnowledgeEntry.Created: _created,
            KnowledgeEntry.Edited: _edited,
            KnowledgeEntry.RecommendationRated: _rated,
            IncidentProfile.Noted: _noted,
        }


def row_to_dict(row: asyncpg.Record) -> dict[str, Any]:
    return {k: json.loads(v) if k in JSON_COLUMNS and isinstance(v, str) else v
            for k, v in dict(row).items()}
