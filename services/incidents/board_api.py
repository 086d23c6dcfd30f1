"""HTTP routes of the board (看板): the columns with their cards, exports of any filtered view
(CSV, XLSX), a server-sent-events feed of changed cards, and setting a planned closure."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from shared.auth import Role, acting_as, require
from shared.errors import Invalid
from shared.http import request_cause, runtime_of
from shared.limits import LongText, Name

from services.incidents.board_export import csv_lines, xlsx_file
from services.incidents.board_feed import feed_of
from services.incidents.board_filters import (
    FROM, Params, ViewFilters, known_params_only, view_filters,
)
from services.incidents.board_queries import (
    CARD_COLUMNS, ORDER, board, card_of, clause, conditions,
)
from services.incidents.domain import Severity, Status
from services.incidents.schemas import IncidentRead

router = APIRouter(prefix="/v1", tags=["board"])
viewer = [Depends(require(Role.VIEWER)), Depends(known_params_only)]
MAX_PER_COLUMN = 200
MAX_EXPORT = 100_000
Lang = Literal["zh", "en"]


@router.get("/board", dependencies=viewer)
async def get_board(
    request: Request, filters: ViewFilters = Depends(view_filters),
    severity: Severity | None = None,
    per_column: int = Query(20, ge=1, le=MAX_PER_COLUMN,
                            description="cards per column (the newest); the rest through "
                            "GET /v1/incidents?status=…&cursor=<the column's next_cursor>"),
) -> dict[str, Any]:
    """Every status as a column (新建 … 已归档) with its count and newest cards."""
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        return await board(conn, filters, severity, per_column, runtime.clock.now())


async def _cards(request: Request, filters: ViewFilters, severity: Severity | None,
                 status: Status | None) -> AsyncIterator[dict[str, Any]]:
    """The view's cards newest first, read through a server-side cursor."""
    runtime = runtime_of(request)
    now, p = runtime.clock.now(), Params()
    where = clause(conditions(filters, p, now, severity=severity, status=status))
    async with runtime.pool.acquire() as conn:
        total = await conn.fetchval(f"SELECT count(*) FROM {FROM} {where}", *p.values)
        if total > MAX_EXPORT:
            raise Invalid("filters", f"the view holds {total} incidents, over the "
                          f"{MAX_EXPORT} an export takes; narrow it (from/to, unit, severity)")
        async with conn.transaction():
            async for row in conn.cursor(f"SELECT {CARD_COLUMNS} FROM {FROM} {where} {ORDER}",
                                         *p.values, prefetch=500):
                yield card_of(row, now)


async def _checked(cards: AsyncIterator[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """Start reading before the response starts, so a refusal is still a 422."""
    first = await anext(cards, None)
    if first is None:
        await cards.aclose()  # gives its connection back now

    async def rest() -> AsyncIterator[dict[str, Any]]:
        if first is not None:
            yield first
            async for card in cards:
                yield card
    return rest()


@router.get("/board/export.csv", dependencies=viewer, response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}})
async def export_csv(request: Request, filters: ViewFilters = Depends(view_filters),
                     severity: Severity | None = None, status: Status | None = None,
                     lang: Lang = "zh") -> StreamingResponse:
    """The filtered view as CSV (UTF-8 with BOM), headers in Chinese or English."""
    cards = await _checked(_cards(request, filters, severity, status))
    return StreamingResponse(csv_lines(cards, lang), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="board.csv"'})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/board/export.xlsx", dependencies=viewer, response_class=Response,
            responses={200: {"content": {XLSX: {}}}})
async def export_xlsx(request: Request, filters: ViewFilters = Depends(view_filters),
                      severity: Severity | None = None, status: Status | None = None,
                      lang: Lang = "zh") -> Response:
    """The filtered view as an Excel workbook, headers in Chinese or English."""
    cards = await _checked(_cards(request, filters, severity, status))
    return Response(await xlsx_file(cards, lang), media_type=XLSX,
                     headers={"Content-Disposition": 'attachment; filename="board.xlsx"'})


@router.get("/board/events", dependencies=viewer, response_class=EventSourceResponse)
async def board_events(request: Request) -> EventSourceResponse:
    """Server-sent events: `ready` once listening, then `card` (the card as the board shows
    it) each time an incident changes; `reload` if this screen fell too far behind."""
    runtime = runtime_of(request)
    feed = feed_of(runtime)
    try:
        await asyncio.wait_for(feed.listening.wait(), 10)
    except TimeoutError:
        raise HTTPException(503, "the live feed is not listening to the database yet; "
                            "retry in a few seconds") from None
    subscriber = feed.subscribe()

    async def stream() -> AsyncIterator[dict[str, Any]]:
        try:
            yield {"event": "ready", "data": json.dumps({"at": runtime.clock.now().isoformat()})}
            while not subscriber.overflowed:
                try:
                    first = await asyncio.wait_for(subscriber.queue.get(), 1.0)
                except TimeoutError:
                    continue
                ids = [first["id"]]  # what else arrived meanwhile: one card per incident
                while not subscriber.queue.empty():
                    ids.append(subscriber.queue.get_nowait()["id"])
                for card in await _cards_by_id(request, list(dict.fromkeys(ids))):
                    yield {"event": "card", "id": card["id"],
                           "data": json.dumps(card, default=_json, ensure_ascii=False)}
            yield {"event": "reload", "data": "{}"}
        finally:
            feed.unsubscribe(subscriber)

    return EventSourceResponse(stream(), ping=15)


async def _cards_by_id(request: Request, ids: list[str]) -> list[dict[str, Any]]:
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {CARD_COLUMNS} FROM {FROM} WHERE i.id = ANY($1::uuid[])",
                                ids)
    now = runtime.clock.now()
    return [card_of(row, now) for row in rows]


def _json(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


class ClosurePlan(BaseModel):
    planned_close_at: AwareDatetime = Field(description="when the responder expects to close it")
    note: LongText = Field("", description="why this time (shown on the timeline)")
    by: Name = Field(description="who plans it")


@router.post("/incidents/{id_or_ref}/planned-closure", response_model=IncidentRead,
             dependencies=[Depends(require(Role.RESPONDER))])
def plan_closure(id_or_ref: str, body: ClosurePlan, request: Request) -> dict[str, Any]:
    """预计闭环时间: replaces the SLA policy's target on the board; can be moved again."""
    return runtime_of(request).application.plan_closure(
        id_or_ref, body.planned_close_at, body.note, acting_as(request, body.by),
        request_cause(request))
