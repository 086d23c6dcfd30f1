"""Detector HTTP API: samples in, alerts listed, Alertmanager accepted."""
from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from shared.auth import Role, caller, require
from shared.http import ErrorBody, body_schema, request_cause, runtime_of
from shared.request_guard import error_response
from shared.store import IntegrityError

from services.detector.alert_ingest import ingest_of
from services.detector.evaluator import STANDBY_RETRY_SECONDS, StandingBy
from services.detector.ingest import BatchTooLarge, parse_batch
from services.detector.schemas import (
    AlertmanagerAlert, AlertmanagerWebhook, AlertRead, IngestResult, SampleBatch,
)
from services.detector.workers import evaluator_of

router = APIRouter(prefix="/v1", tags=["detector"])
viewer = [Depends(require(Role.VIEWER))]
# Samples and external alerts: machine senders with the ingest role, or responders.
ingest = [Depends(require(Role.INGEST))]
CONFLICTED = "other requests kept changing the same alerts at the same moment; send them again"


@router.post("/samples", response_model=IngestResult, dependencies=ingest,
             summary="Ingest a batch of metric samples and evaluate the rules",
             openapi_extra=body_schema(SampleBatch))
async def post_samples(request: Request) -> dict[str, Any] | JSONResponse:
    """Rows (`samples`) or per-series arrays (`series`), in any order. A malformed sample
    refuses the whole batch (422, every bad field named); a sample at or before its series'
    latest is skipped and listed under `rejected` (docs/rules.md, Samples). A standby replica
    answers 503 with Retry-After and stores nothing (docs/adr/one-evaluating-detector.md)."""
    runtime = runtime_of(request)
    evaluator = evaluator_of(runtime)
    try:
        evaluator.check_evaluating()  # before parsing: a standby spends nothing on the batch
        # Parsing 50k samples is CPU work: a worker thread keeps the event loop answering.
        batch = await asyncio.to_thread(parse_batch, await request.body(),
                                        runtime.clock.now().timestamp(),
                                        request.app.state.settings.max_samples_per_batch)
        return await evaluator.ingest(batch, actor=caller(request), cause=request_cause(request))
    except BatchTooLarge as error:
        return error_response(413, "samples", f"at most {error.limit} samples in one batch "
                              f"({error.size} sent)", "split the batch")
    except StandingBy as error:
        raise HTTPException(503, str(error),
                            headers={"Retry-After": str(STANDBY_RETRY_SECONDS)}) from None


@router.get("/alerts", response_model=list[AlertRead], dependencies=viewer,
            summary="Alerts, firing by default")
async def list_alerts(request: Request,
                      status: Literal["firing", "resolved", "all"] = Query("firing"),
                      limit: int = Query(500, ge=1, le=5000)) -> list[dict]:
    query = "SELECT * FROM alerts" + ("" if status == "all" else " WHERE status = $2")
    query += " ORDER BY started_at DESC NULLS LAST LIMIT $1"
    args = (limit,) if status == "all" else (limit, status)
    async with runtime_of(request).pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(query, *args)]


@router.post("/ingest/alertmanager", response_model=IngestResult, dependencies=ingest,
             summary="Receive Prometheus Alertmanager alerts (webhook v4 body or API v2 list)",
             openapi_extra=body_schema(AlertmanagerWebhook | list[AlertmanagerAlert]),
             responses={503: {"model": ErrorBody, "description": CONFLICTED}})
async def alertmanager(request: Request) -> dict[str, int]:
    """Re-sent alerts that change nothing store nothing. A change that keeps meeting
    concurrent changes of the same alerts is answered 503 with Retry-After, never 4xx:
    Alertmanager retries only 5xx (docs/adr/alert-ingest.md)."""
    try:
        return await ingest_of(runtime_of(request)).receive(
            await request.body(), actor=f"alertmanager:{caller(request)}",
            cause=request_cause(request))
    except IntegrityError:
        raise HTTPException(503, CONFLICTED, headers={"Retry-After": "1"}) from None
