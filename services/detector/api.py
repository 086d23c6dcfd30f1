"""Detector HTTP API: samples in, rules managed, alerts listed, Alertmanager accepted."""
from __future__ import annotations

import json
from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request

from shared.auth import Role, caller, require
from shared.http import request_cause, runtime_of

from services.detector.alertmanager import external_alerts
from services.detector.app import DetectorApplication
from services.detector.schemas import (
    AlertmanagerAlert, AlertmanagerWebhook, AlertRead, IngestResult, RuleCreate, RuleRead,
    RuleUpdate, SampleBatch,
)

router = APIRouter(prefix="/v1", tags=["detector"])
responder = [Depends(require(Role.RESPONDER))]
manager = [Depends(require(Role.MANAGER))]


def detector(request: Request) -> DetectorApplication:
    return runtime_of(request).application


@router.post("/samples", response_model=IngestResult, dependencies=responder,
             summary="Ingest a batch of metric samples and evaluate the rules")
def post_samples(batch: SampleBatch, request: Request,
                 app: DetectorApplication = Depends(detector)) -> dict[str, int]:
    limit = request.app.state.settings.max_samples_per_batch
    if len(batch.samples) > limit:
        raise HTTPException(413, f"samples: {len(batch.samples)} samples in one batch; the limit "
                                 f"is {limit}. Split the batch.")
    return app.ingest(batch.samples, actor=caller(request), cause=request_cause(request))


@router.post("/rules", response_model=RuleRead, status_code=201, dependencies=manager)
def create_rule(rule: RuleCreate, request: Request,
                app: DetectorApplication = Depends(detector)) -> dict:
    return app.define_rule(**rule.model_dump(), actor=caller(request), cause=request_cause(request))


@router.patch("/rules/{rule_id}", response_model=RuleRead, dependencies=manager)
def change_rule(rule_id: UUID, change: RuleUpdate, request: Request,
                app: DetectorApplication = Depends(detector)) -> dict:
    return app.change_rule(rule_id, **change.model_dump(), actor=caller(request),
                           cause=request_cause(request))


@router.get("/rules", response_model=list[RuleRead])
async def list_rules(request: Request) -> list[dict]:
    async with runtime_of(request).pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM rules ORDER BY name")
    return [{**dict(r), "labels": json.loads(r["labels"])} for r in rows]


@router.get("/rules/{rule_id}", response_model=RuleRead)
def get_rule(rule_id: UUID, app: DetectorApplication = Depends(detector)) -> dict:
    return app.rule(rule_id)


@router.get("/alerts", response_model=list[AlertRead], summary="Alerts, firing by default")
async def list_alerts(request: Request,
                      status: Literal["firing", "resolved", "all"] = Query("firing"),
                      limit: int = Query(500, ge=1, le=5000)) -> list[dict]:
    query = "SELECT * FROM alerts" + ("" if status == "all" else " WHERE status = $2")
    query += " ORDER BY started_at DESC NULLS LAST LIMIT $1"
    args = (limit,) if status == "all" else (limit, status)
    async with runtime_of(request).pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(query, *args)]


@router.post("/ingest/alertmanager", response_model=IngestResult, dependencies=responder,
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
