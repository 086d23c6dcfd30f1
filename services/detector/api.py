"""Detector HTTP API: samples in, alerts listed, Alertmanager accepted."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request

from shared.auth import Role, caller, require
from shared.http import request_cause, runtime_of

from services.detector.alertmanager import external_alerts
from services.detector.app import DetectorApplication
from services.detector.ingest import BatchTooLarge, parse_batch
from services.detector.schemas import (
    AlertmanagerAlert, AlertmanagerWebhook, AlertRead, IngestResult, SampleBatch,
)
from services.detector.workers import evaluator_of

router = APIRouter(prefix="/v1", tags=["detector"])
viewer = [Depends(require(Role.VIEWER))]
# Samples and external alerts: machine senders with the ingest role, or responders.
ingest = [Depends(require(Role.INGEST))]


def detector(request: Request) -> DetectorApplication:
    return runtime_of(request).application


@router.post("/samples", response_model=IngestResult, dependencies=ingest,
             summary="Ingest a batch of metric samples and evaluate the rules",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": SampleBatch.model_json_schema(ref_template="#/components/schemas/{model}")}}}})
async def post_samples(request: Request) -> dict[str, Any]:
    """Rows (`samples`) or per-series arrays (`series`), in any order. A malformed sample
    refuses the whole batch (422, every bad field named); a sample at or before its series'
    latest is skipped and listed under `rejected` (docs/rules.md, Samples)."""
    runtime = runtime_of(request)
    try:
        batch = parse_batch(await request.body(), runtime.clock.now().timestamp(),
                            request.app.state.settings.max_samples_per_batch)
    except BatchTooLarge as error:
        raise HTTPException(413, str(error)) from None
    return await evaluator_of(runtime).ingest(batch, actor=caller(request),
                                              cause=request_cause(request))


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
             summary="Receive Prometheus Alertmanager alerts (webhook v4 body or API v2 list)")
def alertmanager(request: Request,
                 payload: AlertmanagerWebhook | list[AlertmanagerAlert] = Body(...),
                 app: DetectorApplication = Depends(detector)) -> dict[str, int]:
    if isinstance(payload, AlertmanagerWebhook):
        alerts, status = payload.alerts, payload.status
    else:
        alerts, status = payload, None
    converted = external_alerts(alerts, app.clock.now(), status)
    return app.receive_external(converted, actor=f"alertmanager:{caller(request)}",
                                cause=request_cause(request))
