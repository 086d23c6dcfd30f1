"""Detector HTTP API for backtest jobs: start one (202 + Location), read its state, progress
and result, cancel it. The synchronous /backtest endpoints stay as they were."""
from __future__ import annotations

import asyncio
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from shared.auth import Role, require
from shared.http import runtime_of

from services.detector.app import DetectorApplication
from services.detector.backtest_jobs import KEEP_SECONDS, BacktestJobs, Job, TooManyJobs
from services.detector.backtesting import checked, rule_at, run_backtest
from services.detector.rules import RuleSpec
from services.detector.rules_api import detector
from services.detector.schemas import (
    BacktestIn, BacktestJobOut, DraftBacktestIn, RuleBacktestIn,
)
from services.detector.workers import evaluator_of

router = APIRouter(prefix="/v1", tags=["rules"])
responder = [Depends(require(Role.RESPONDER))]
viewer = [Depends(require(Role.VIEWER))]
JOBS = "/v1/backtest/jobs"


def jobs_of(request: Request) -> BacktestJobs:
    runtime = runtime_of(request)
    if "backtest_jobs" not in runtime.components:
        runtime.components["backtest_jobs"] = BacktestJobs(runtime.clock)
    return runtime.components["backtest_jobs"]


@router.post("/rules/{rule_id}/backtest/jobs", status_code=202, response_model=BacktestJobOut,
             dependencies=responder,
             summary="Start a backtest (and sweep) of the rule as a job; poll its Location")
async def start_rule_job(rule_id: UUID, body: RuleBacktestIn, request: Request,
                         response: Response,
                         app: DetectorApplication = Depends(detector)) -> dict:
    spec = await asyncio.to_thread(rule_at, app, rule_id, body.version)
    return await _start(request, response, app, spec, body, str(rule_id))


@router.post("/backtest/jobs", status_code=202, response_model=BacktestJobOut,
             dependencies=responder,
             summary="Start a backtest (and sweep) of a draft rule as a job")
async def start_draft_job(body: DraftBacktestIn, request: Request, response: Response,
                          app: DetectorApplication = Depends(detector)) -> dict:
    return await _start(request, response, app, body.rule, body, None)


@router.get("/backtest/jobs/{job_id}", response_model=BacktestJobOut, dependencies=viewer,
            summary="A backtest job: state, progress, and the result once done")
def get_job(job_id: str, request: Request) -> dict:
    return _found(jobs_of(request).get(job_id), job_id).to_json()


@router.delete("/backtest/jobs/{job_id}", status_code=202, response_model=BacktestJobOut,
               dependencies=responder, summary="Cancel a backtest job")
def delete_job(job_id: str, request: Request) -> dict:
    return _found(jobs_of(request).cancel(job_id), job_id).to_json()


@router.post("/backtest/jobs/{job_id}/cancel", status_code=202, response_model=BacktestJobOut,
             dependencies=responder, summary="Cancel a backtest job (same as DELETE)")
def cancel_job(job_id: str, request: Request) -> dict:
    return delete_job(job_id, request)


async def _start(request: Request, response: Response, app: DetectorApplication,
                 spec: RuleSpec, body: BacktestIn, rule_id: str | None) -> dict:
    runtime = runtime_of(request)
    metric = (await asyncio.to_thread(app.catalogue)).get(spec.metric)
    samples = await asyncio.to_thread(checked, spec, body)   # 422s before a job exists
    store, now = evaluator_of(runtime).store, runtime.clock.now().timestamp()

    async def work(progress) -> dict:
        return await run_backtest(store, spec, metric, body, now, rule_id, progress, samples)
    try:
        job = jobs_of(request).start(spec.name, body.sweep is not None, work)
    except TooManyJobs as error:
        raise HTTPException(429, str(error)) from None
    response.headers["Location"] = f"{JOBS}/{job.id}"
    return job.to_json()


def _found(job: Job | None, job_id: str) -> Job:
    if job is None:
        raise HTTPException(404, f"no backtest job '{job_id}': ended jobs are kept "
                                 f"{KEEP_SECONDS / 60:g} minutes and none survive a restart "
                                 "of the detector; start the backtest again")
    return job
