"""Detector HTTP API for rules: define, change, version history, the metric catalogue,
backtests and rule health."""
from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request

from shared.auth import Role, caller, require
from shared.http import request_cause, runtime_of
from shared.limits import MANY

from services.detector.app import DetectorApplication
from services.detector.backtesting import rule_at, run_backtest
from services.detector.rules import MetricSpec, RulesFile, RuleSpec
from services.detector.schemas import (
    BacktestIn, BacktestOut, DraftBacktestIn, RuleBacktestIn, RuleEnable, RuleHealth, RuleRead,
    RuleVersion,
)
from services.detector.workers import announce_rule_change, evaluator_of

router = APIRouter(prefix="/v1", tags=["rules"])
manager = [Depends(require(Role.MANAGER))]
responder = [Depends(require(Role.RESPONDER))]
viewer = [Depends(require(Role.VIEWER))]


def detector(request: Request) -> DetectorApplication:
    return runtime_of(request).application


async def _changed_rules(request: Request, change) -> dict[str, Any]:
    """Run a rule change, then let the evaluator rebuild so it takes effect at once."""
    runtime = runtime_of(request)
    evaluator = evaluator_of(runtime)
    seen = evaluator.metrics_seen | await evaluator.store.metrics()
    view = await asyncio.to_thread(change, seen, caller(request), request_cause(request))
    await announce_rule_change(runtime)
    return view


@router.post("/rules", response_model=RuleRead, status_code=201, dependencies=manager,
             summary="Define a rule (docs/rules.md; schema at GET /v1/rules/schema)")
async def create_rule(rule: RuleSpec, request: Request,
                      app: DetectorApplication = Depends(detector)) -> dict:
    return await _changed_rules(request, lambda seen, actor, cause: app.define_rule(
        rule, seen=seen, actor=actor, cause=cause))


@router.put("/rules/{rule_id}", response_model=RuleRead, dependencies=manager,
            summary="Replace a rule's definition; stores a new version only if it changed")
async def redefine_rule(rule_id: UUID, rule: RuleSpec, request: Request,
                        app: DetectorApplication = Depends(detector)) -> dict:
    def change(seen, actor, cause):
        view, changed = app.redefine_rule(rule_id, rule, seen=seen, actor=actor, cause=cause)
        return {**view, "changed": changed}
    return await _changed_rules(request, change)


@router.patch("/rules/{rule_id}", response_model=RuleRead, dependencies=manager,
              summary="Enable or disable a rule (a new version)")
async def enable_rule(rule_id: UUID, body: RuleEnable, request: Request,
                      app: DetectorApplication = Depends(detector)) -> dict:
    def change(seen, actor, cause):
        current = app.rule(rule_id)["definition"]
        spec = RuleSpec.model_validate({**current, "enabled": body.enabled})
        return app.redefine_rule(rule_id, spec, seen=seen, actor=actor, cause=cause)[0]
    return await _changed_rules(request, change)


@router.get("/rules", dependencies=viewer, response_model=list[RuleRead])
async def list_rules(request: Request) -> list[dict]:
    async with runtime_of(request).pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM rules ORDER BY name")
    return [{**dict(r), "definition": json.loads(r["definition"])} for r in rows]


@router.get("/rules/schema", dependencies=viewer, summary="The JSON Schema of a rules file")
def rules_schema() -> dict:
    return RulesFile.model_json_schema()


@router.get("/rules/health", dependencies=viewer, response_model=list[RuleHealth],
            summary="Per rule over recent days: alerts per day, suppressed, judged real or false")
async def rule_health(request: Request, days: int = Query(30, ge=1, le=400)) -> list[dict]:
    async with runtime_of(request).pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT h.rule_id, r.name, sum(raised)::int raised, sum(suppressed)::int suppressed,
                      sum(confirmed)::int confirmed, sum(false_positive)::int false_positive
               FROM rule_health h LEFT JOIN rules r ON r.id::text = h.rule_id
               WHERE day > (now() AT TIME ZONE 'UTC')::date - $1::int GROUP BY h.rule_id, r.name
               ORDER BY sum(raised) DESC""", days)
    return [health_view(dict(r), days) for r in rows]


def health_view(row: dict[str, Any], days: int) -> dict[str, Any]:
    judged = row["confirmed"] + row["false_positive"]
    share = row["false_positive"] / judged if judged else None
    return {**row, "days": days, "alerts_per_day": round(row["raised"] / days, 3),
            "false_positive_share": share,
            "noisy": bool(row["suppressed"]) or (share is not None and share > 0.5)}


@router.get("/rules/{rule_id}", dependencies=viewer, response_model=RuleRead)
def get_rule(rule_id: UUID, app: DetectorApplication = Depends(detector)) -> dict:
    return app.rule(rule_id)


@router.get("/rules/{rule_id}/history", dependencies=viewer, response_model=list[RuleVersion],
            summary="Every version of the rule: what it said, who changed it, when")
def rule_history(rule_id: UUID, app: DetectorApplication = Depends(detector)) -> list[dict]:
    return app.rule_history(rule_id)


@router.post("/rules/{rule_id}/backtest", response_model=BacktestOut, dependencies=responder,
             summary="Replay the rule over history and score it against labelled windows")
async def backtest_rule(rule_id: UUID, body: RuleBacktestIn, request: Request,
                        app: DetectorApplication = Depends(detector)) -> dict:
    # eventsourcing reads off the event loop
    spec = await asyncio.to_thread(rule_at, app, rule_id, body.version)
    return await _backtest(request, app, spec, body, str(rule_id))


@router.post("/backtest", response_model=BacktestOut, dependencies=responder,
             summary="Backtest a draft rule that is not defined yet")
async def backtest_draft(body: DraftBacktestIn, request: Request,
                         app: DetectorApplication = Depends(detector)) -> dict:
    return await _backtest(request, app, body.rule, body, None)


async def _backtest(request: Request, app: DetectorApplication, spec: RuleSpec,
                    body: BacktestIn, rule_id: str | None) -> dict:
    runtime = runtime_of(request)
    metric = (await asyncio.to_thread(app.catalogue)).get(spec.metric)
    return await run_backtest(evaluator_of(runtime).store, spec, metric, body,
                              runtime.clock.now().timestamp(), rule_id)


@router.get("/metrics/catalogue", dependencies=viewer, response_model=list[MetricSpec],
            summary="Declared metrics: what rules may refer to")
def list_metrics(app: DetectorApplication = Depends(detector)) -> list[MetricSpec]:
    return sorted(app.catalogue().values(), key=lambda m: m.name)


@router.put("/metrics/catalogue", dependencies=manager,
            summary="Declare metrics (name, interval, retention); unchanged ones store nothing")
async def declare_metrics(metrics: Annotated[list[MetricSpec], Body(max_length=MANY)],
                          request: Request,
                          app: DetectorApplication = Depends(detector)) -> dict[str, int]:
    changed = await asyncio.to_thread(app.declare_metrics, metrics, actor=caller(request),
                                      cause=request_cause(request))
    if changed:
        await announce_rule_change(runtime_of(request))
    return {"declared": len(metrics), "changed": changed}
