"""HTTP: the digests collected and sent, per recipient and period, and what one says."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from services.notifier.api import app_of, read_page, viewer
from shared.http import Offset

router = APIRouter(prefix="/v1")


class DigestRead(BaseModel):
    id: UUID
    every: str = Field(description="daily or weekly")
    recipient: str = Field(description="the channel, and the person on it, it is for")
    person: str | None
    channel_name: str
    time_zone: str = Field(description="the clock its sending time is read on")
    period_start: datetime
    due_at: datetime = Field(description="the end of its period: when it is sent")
    status: str = Field(description="collecting, or sent")
    incidents: dict[str, str] = Field(description="incident id → open, resolved or closed")
    counts: dict[str, int] | None = Field(description="fired, open and closed, once sent")
    delivery_id: str | None = Field(description="the delivery that carried it")
    sent_at: datetime | None
    updated_at: datetime


class DigestPage(BaseModel):
    items: list[DigestRead]
    total: int


class DigestContent(BaseModel):
    id: UUID
    ref: str
    every: str
    recipient: dict[str, Any]
    time_zone: str
    period: dict[str, str]
    fired: list[dict[str, Any]]
    open: list[dict[str, Any]]
    closed: list[dict[str, Any]]
    units: list[dict[str, Any]]
    counts: dict[str, int]
    sent_at: datetime | None
    delivery_id: str | None


FILTERS = "($1::text IS NULL OR person = $1) AND ($2::text IS NULL OR status = $2)"


@router.get("/digests", dependencies=viewer, response_model=DigestPage, tags=["digests"])
async def list_digests(request: Request, person: str | None = None,
                       status: str | None = Query(None, pattern="^(collecting|sent)$"),
                       limit: int = Query(100, ge=1, le=1000), offset: Offset = 0) -> dict:
    page = await read_page(request, "digests", FILTERS, "due_at, recipient", (person, status),
                           limit, offset)
    for item in page["items"]:  # jsonb comes back as text
        item["incidents"] = json.loads(item["incidents"])
        item["counts"] = json.loads(item["counts"]) if item["counts"] else None
    return page


@router.get("/digests/{digest_id}", dependencies=viewer, response_model=DigestContent,
            tags=["digests"], summary="What a digest says (or will say when its period ends)")
def get_digest(digest_id: UUID, request: Request) -> dict:
    return app_of(request).digest(digest_id)
