"""HTTP routes of the knowledge base: write entries from closed cases, edit and search them,
and recommend them for an incident with the reasons they matched."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from services.capa.knowledge.aggregate import IncidentUnknown, KnowledgeNotFound
from services.capa.knowledge.commands import Knowledge
from services.capa.knowledge.projection import row_to_dict
from services.capa.knowledge.queries import KnowledgeReader, summary, with_stale
from services.capa.knowledge.schemas import (
    Feedback, KnowledgeCreate, KnowledgePage, KnowledgeRead, KnowledgeUpdate, Recommendations,
)
from shared.auth import Role, acting_as, require
from shared.http import request_cause, runtime_of

router = APIRouter(tags=["knowledge"])
responder = [Depends(require(Role.RESPONDER))]
viewer = [Depends(require(Role.VIEWER))]

LIST = """SELECT * FROM knowledge_entries
WHERE ($1::boolean IS NULL OR (review_by < $2) = $1)
ORDER BY updated_at DESC, id LIMIT $3 OFFSET $4"""
COUNT = ("SELECT count(*) FROM knowledge_entries"
         " WHERE ($1::boolean IS NULL OR (review_by < $2) = $1)")


def _knowledge(request: Request) -> Knowledge:
    return Knowledge(runtime_of(request).application)


def _reader(request: Request) -> KnowledgeReader:
    state = request.app.state
    if getattr(state, "knowledge_reader", None) is None:
        state.knowledge_reader = KnowledgeReader()
    return state.knowledge_reader


def _today(request: Request) -> Any:
    return runtime_of(request).application.clock.now().date()


@router.post("/v1/knowledge", response_model=KnowledgeRead, status_code=201,
             dependencies=responder, summary="Write a knowledge entry from a closed CAPA case")
def create_entry(body: KnowledgeCreate, request: Request, response: Response) -> dict[str, Any]:
    given = body.model_dump(exclude={"by", "capa_id", "symptom"}, exclude_defaults=True)
    entry = _knowledge(request).create_from_case(
        body.capa_id, by=acting_as(request, body.by), cause=request_cause(request),
        symptom=body.symptom, **given)
    response.headers["Location"] = f"/v1/knowledge/{entry['id']}"
    return with_stale(entry, _today(request))


@router.get("/v1/knowledge", response_model=KnowledgePage, dependencies=viewer,
            summary="Search entries (中文 or English) or list them; stale ones are flagged")
async def list_entries(request: Request, q: str | None = Query(None, max_length=500),
                       stale: bool | None = None, limit: int = Query(20, ge=1, le=200),
                       offset: int = Query(0, ge=0, le=100_000)) -> dict[str, Any]:
    today = _today(request)
    async with runtime_of(request).pool.acquire() as conn:
        if not q:
            rows = await conn.fetch(LIST, stale, today, limit, offset)
            total = await conn.fetchval(COUNT, stale, today)
            return {"items": [with_stale(summary(row_to_dict(r)), today) for r in rows],
                    "total": total}
        index = await _reader(request).refresh(conn)
    # A stale filter applies after ranking: `total` then counts the filtered page only.
    hits, total = index.search(q, limit=offset + limit)
    found = [with_stale({**entry.summary, "score": round(score, 4), "matched": terms}, today)
             for entry, score, terms in hits]
    if stale is not None:
        found = [f for f in found if f["stale"] is stale]
        total = len(found)
    return {"items": found[offset:], "total": total}


@router.get("/v1/knowledge/{entry_id}", response_model=KnowledgeRead, dependencies=viewer,
            summary="One entry")
async def get_entry(entry_id: UUID, request: Request) -> dict[str, Any]:
    async with runtime_of(request).pool.acquire() as conn:
        entry = await _reader(request).entry(conn, entry_id)
    if entry is None:
        raise KnowledgeNotFound(f"no knowledge entry has id {entry_id}")
    return with_stale(entry, _today(request))


@router.patch("/v1/knowledge/{entry_id}", response_model=KnowledgeRead, dependencies=responder,
              summary="Edit an entry; a new review_by marks it reviewed")
def edit_entry(entry_id: UUID, body: KnowledgeUpdate, request: Request) -> dict[str, Any]:
    changes = body.model_dump(exclude={"by"}, exclude_unset=True)
    entry = _knowledge(request).edit(entry_id, by=acting_as(request, body.by),
                                     cause=request_cause(request), changes=changes)
    return with_stale(entry, _today(request))


@router.get("/v1/incidents/{incident_id}/recommendations", response_model=Recommendations,
            dependencies=viewer, summary="Knowledge entries for an incident, with why each fits")
async def recommendations(incident_id: str, request: Request,
                          limit: int = Query(5, ge=1, le=50)) -> dict[str, Any]:
    reader, today = _reader(request), _today(request)
    async with runtime_of(request).pool.acquire() as conn:
        incident = await reader.incident(conn, incident_id)
        if incident is None:
            raise IncidentUnknown(f"capa has not heard of incident {incident_id} opening",
                                  field="incident_id")
        index = await reader.refresh(conn)
    ranked = index.recommend(incident, limit=limit)
    return {"incident_id": incident_id, "items": [
        {**r, "entry": with_stale(index.entries[r["entry_id"]].summary, today)} for r in ranked]}


@router.post("/v1/incidents/{incident_id}/recommendations/{entry_id}/feedback",
             response_model=KnowledgeRead, dependencies=responder,
             summary="Say whether a recommended entry helped; it moves the entry's ranking")
def rate(incident_id: str, entry_id: UUID, body: Feedback, request: Request) -> dict[str, Any]:
    entry = _knowledge(request).rate(entry_id, incident_id=incident_id, useful=body.useful,
                                     by=acting_as(request, body.by),
                                     cause=request_cause(request))
    return with_stale(entry, _today(request))
