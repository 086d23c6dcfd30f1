"""HTTP routes of the CAPA KPIs: the figures of a period (JSON or CSV) and its
management-review summary (JSON with Markdown, or the Markdown alone)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from services.capa.domain import InvalidCapaInput
from services.capa.kpis.formulas import csv_text
from services.capa.kpis.queries import Period, kpis
from services.capa.kpis.review import markdown, summary
from shared.auth import Role, require
from shared.http import runtime_of
from shared.limits import NAME

router = APIRouter(prefix="/v1/capa/kpis", tags=["capa kpis"])
viewer = [Depends(require(Role.VIEWER))]
DEFAULT_PERIOD = timedelta(days=30)
FROM = Query(None, alias="from", description="start of the period (inclusive); default `to` − 30 days")
TO = Query(None, alias="to", description="end of the period (exclusive); default now on the service's clock")
UNIT = Query(None, max_length=NAME, description="a unit's key or name: the cases of its entities "
             "and of every unit below it (a region and its stores)")


def period(request: Request, start: datetime | None, end: datetime | None) -> Period:
    """The period asked for, on the service's clock; times without a zone are UTC."""
    now = runtime_of(request).clock.now()
    end = _utc(end) if end else now
    start = _utc(start) if start else end - DEFAULT_PERIOD
    if start >= end:
        raise InvalidCapaInput("from", f"{start.isoformat()} is not before `to` "
                               f"({end.isoformat()}): give a start earlier than the end")
    return Period.of(start, end, now)


def unit_asked(unit: str | None) -> str | None:
    if unit is None:
        return None
    if not unit.strip():
        raise InvalidCapaInput("unit", "is blank: give a unit's key or name (e.g. south or "
                               "华南区), or leave `unit` out for the whole organisation")
    return unit.strip()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


@router.get("", dependencies=viewer, summary="CAPA KPIs of a period, overall and by group",
            responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
async def get_kpis(request: Request, start: datetime | None = FROM, end: datetime | None = TO,
                   by: Literal["entity", "category", "kind", "owner", "unit", "region"]
                   | None = None, unit: str | None = UNIT,
                   format: Literal["json", "csv"] = "json") -> Any:
    asked, within = period(request, start, end), unit_asked(unit)
    async with runtime_of(request).pool.acquire() as conn:
        report = await kpis(conn, asked, by or "all", within)
    if format == "json":
        return report
    groups = [{"key": "all", "kpis": report["overall"]}, *report["groups"]]
    name = f"capa-kpis-{asked.start:%Y%m%d}-{asked.end:%Y%m%d}.csv"
    return Response(csv_text(groups), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/review", dependencies=viewer,
            summary="Management-review summary of a period (JSON with Markdown, or Markdown)",
            responses={200: {"content": {"application/json": {}, "text/markdown": {}}}})
async def get_review(request: Request, start: datetime | None = FROM,
                     end: datetime | None = TO, unit: str | None = UNIT,
                     format: Literal["json", "md"] = "json") -> Any:
    asked, within = period(request, start, end), unit_asked(unit)
    async with runtime_of(request).pool.acquire() as conn:
        review = summary(await kpis(conn, asked, "category", within),
                         await kpis(conn, asked, "entity", within))
    text = markdown(review)
    if format == "md":
        return Response(text, media_type="text/markdown; charset=utf-8")
    return {**review, "markdown": text}
