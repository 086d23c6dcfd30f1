"""HTTP routes under /v1/reports: JSON, or CSV with `format=csv` (or `Accept: text/csv`).
Every parameter is checked; an unknown one is refused (docs/reports.md)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from shared.auth import Role, require
from shared.http import runtime_of

from services.incidents.reports.period import (
    BUCKETS, DIMENSIONS, FORMATS, Period, check_params, choice, period_of, unit_of,
)
from services.incidents.reports.schemas import (
    KpisRead, RepeatsRead, ResponseTimesRead, SelfCheckRead,
)
from services.incidents.reports.selfcheck import self_check
from services.incidents.reports.tables import csv_of
from services.incidents.reports.trends import kpis, repeats, response_times

router = APIRouter(prefix="/v1/reports", tags=["reports"])
viewer = [Depends(require(Role.VIEWER))]
PERIOD = ("week", "from", "to", "tz", "unit", "format")

# Declared for the OpenAPI document; the values are read (and checked) from the query itself.
Week = Query(None, description="ISO week, e.g. 2026-W49 (or from/to; neither: last week)")
From = Query(None, alias="from", description="start: a date or date-time (inclusive)")
To = Query(None, description="end: a date-time (exclusive) or a date (that day included)")
Tz = Query(None, description="IANA time zone weeks and bare dates are read in (default UTC)")
Unit = Query(None, description="only incidents of this unit or region")
Format = Query(None, description="json (default) or csv")

# (connection, period, now, unit) → the report
CSV = {200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"}}
Compute = Callable[[Any, Period, Any, str | None], Awaitable[dict[str, Any]]]


async def _report(request: Request, name: str, compute: Compute,
                  extra: tuple[str, ...] = ()) -> Response:
    query = dict(request.query_params)
    check_params(query, PERIOD + extra)
    fmt = choice(query, "format", FORMATS,
                 "csv" if "text/csv" in request.headers.get("accept", "") else "json")
    runtime = runtime_of(request)
    now = runtime.application.clock.now()
    period, unit = period_of(query, now), unit_of(query)
    async with runtime.pool.acquire() as conn:
        report = await compute(conn, period, now, unit)
    if fmt == "csv":
        filename = f"{name}-{period.week or period.start.date().isoformat()}.csv"
        return Response(csv_of(name, report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return JSONResponse(report)


@router.get("/self-check", dependencies=viewer, response_model=SelfCheckRead,
            responses=CSV)
async def get_self_check(request: Request, week: str | None = Week, from_: str | None = From,
                         to: str | None = To, tz: str | None = Tz, unit: str | None = Unit,
                         format: str | None = Format) -> Response:
    """The timeliness self-check table (响应时效自检表): per severity, the respond, resolve
    and close lines against the SLA policy's standard, and the closure rate."""
    policies = runtime_of(request).application.sla_policies
    return await _report(request, "self-check",
                         lambda conn, p, now, u: self_check(conn, p, now, u, policies))


@router.get("/response-times", dependencies=viewer, response_model=ResponseTimesRead,
            responses=CSV)
async def get_response_times(
        request: Request, week: str | None = Week, from_: str | None = From,
        to: str | None = To, tz: str | None = Tz, unit: str | None = Unit,
        format: str | None = Format,
        bucket: str | None = Query(None, description="day, week (default) or month"),
        by: str | None = Query(None, description="severity (default), unit, type or source"),
) -> Response:
    """MTTA (opened → acknowledged) and MTTR (opened → resolved) per bucket and group."""
    query = request.query_params
    chosen_bucket = choice(query, "bucket", BUCKETS, "week")
    chosen_by = choice(query, "by", DIMENSIONS, "severity")
    return await _report(request, "response-times",
                         lambda conn, p, now, u: response_times(conn, p, now, u,
                                                                chosen_bucket, chosen_by),
                         extra=("bucket", "by"))


@router.get("/kpis", dependencies=viewer, response_model=KpisRead,
            responses=CSV)
async def get_kpis(request: Request, week: str | None = Week, from_: str | None = From,
                   to: str | None = To, tz: str | None = Tz, unit: str | None = Unit,
                   format: str | None = Format) -> Response:
    """First-line resolution rate, SLA attainment per deadline, reopened incidents."""
    return await _report(request, "kpis", kpis)


@router.get("/repeats", dependencies=viewer, response_model=RepeatsRead,
            responses=CSV)
async def get_repeats(request: Request, week: str | None = Week, from_: str | None = From,
                      to: str | None = To, tz: str | None = Tz, unit: str | None = Unit,
                      format: str | None = Format) -> Response:
    """The top-10 repeat problems: the same entity with the same type (or alert) opened more
    than once in the period."""
    return await _report(request, "repeats", repeats)
