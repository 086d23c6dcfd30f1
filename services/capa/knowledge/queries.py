"""Reads of the knowledge base: entries from the read model, and the in-memory index kept in
step with it by fetching only rows whose revision moved since the last look."""
from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import asyncpg

from services.capa.knowledge.aggregate import is_stale
from services.capa.knowledge.projection import row_to_dict
from services.capa.knowledge.recommend import Entry, Incident, KnowledgeIndex

CHANGED = "SELECT * FROM knowledge_entries WHERE revision > $1 ORDER BY revision"
ONE = "SELECT * FROM knowledge_entries WHERE id = $1"
INCIDENT = "SELECT * FROM knowledge_incidents WHERE incident_id = $1"


def searchable_text(row: dict[str, Any]) -> str:
    return " ".join([row["title"], row["symptom"], row["root_cause"], *row["investigation"],
                     row["fix"], row["prevention"], *row["tags"]])


def entry_of(row: dict[str, Any]) -> Entry:
    return Entry(id=str(row["id"]), text=searchable_text(row), entity=row["entity"],
                 rule=row["rule"], category=row["category"], labels=row["labels"],
                 useful=row["useful"], not_useful=row["not_useful"],
                 review_by=row["review_by"], summary=summary(row))


def summary(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "ref", "title", "symptom", "fix", "prevention", "tags",
                                "category", "review_by")}


def with_stale(item: dict[str, Any], today: date) -> dict[str, Any]:
    return {**item, "stale": is_stale(item["review_by"], today)}


class KnowledgeReader:
    """One per process; GETs on another replica see another replica's writes once its
    projection has applied them."""

    def __init__(self) -> None:
        self.index = KnowledgeIndex()
        self.revision = 0
        self._lock = asyncio.Lock()

    async def refresh(self, conn: asyncpg.Connection) -> KnowledgeIndex:
        async with self._lock:
            for record in await conn.fetch(CHANGED, self.revision):
                self.index.upsert(entry_of(row_to_dict(record)))
                self.revision = record["revision"]
        return self.index

    async def entry(self, conn: asyncpg.Connection, entry_id: Any) -> dict[str, Any] | None:
        record = await conn.fetchrow(ONE, entry_id)
        return row_to_dict(record) if record else None

    async def incident(self, conn: asyncpg.Connection, incident_id: str) -> Incident | None:
        record = await conn.fetchrow(INCIDENT, incident_id)
        if record is None:
            return None
        labels = record["labels"]
        return Incident(incident_id=incident_id, title=record["title"], entity=record["entity"],
                        rule=record["rule"],
                        labels=json.loads(labels) if isinstance(labels, str) else labels)
