"""The detector's other ways in besides Alertmanager and samples (docs/intake.md): the
PagerDuty Events API v2, mapped JSON webhooks, and counted events. Every alert goes through
the one external-alert path (alert_ingest.py): same deduplication, same firing set, same
AlertRaised / AlertResolved."""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from shared.auth import Role, caller, require
from shared.http import ErrorBody, body_schema, request_cause, runtime_of
from shared.request_guard import error_response
from shared.store import IntegrityError

from services.detector import counting, pagerduty
from services.detector.alert_ingest import ingest_of
from services.detector.api import CONFLICTED
from services.detector.counting import EventBatch
from services.detector.evaluator import STANDBY_RETRY_SECONDS, StandingBy
from services.detector.schemas import IngestResult, PagerDutyEvent, PagerDutyResult
from services.detector.webhook import webhook_alerts
from services.detector.workers import evaluator_of

ingest = [Depends(require(Role.INGEST))]
router = APIRouter(prefix="/v1", tags=["detector"])
# PagerDuty senders carry no API key: the event's routing_key is the credential, checked
# against the configured integrations before anything is read further.
pagerduty_router = APIRouter(tags=["detector"])
PD_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid event: `errors` name each bad field"},
    429: {"description": "the integration is past its rate limit (`rate_limit`); retry after "
                         "`Retry-After` seconds; nothing is stored"},
    # Refused before the route reads the body, as every route's body is (shared/request_guard.py).
    413: {"model": ErrorBody, "description": "the body is past the service-wide size limit"},
    422: {"model": ErrorBody, "description": "the body contains NUL characters"},
    503: {"description": CONFLICTED + " (PagerDuty senders retry 5xx)"}}


def _throttle(request: Request) -> pagerduty.Throttle:
    """One per app, made on first use (no await in between: no two are made)."""
    state = request.app.state
    if getattr(state, "pagerduty_throttle", None) is None:
        state.pagerduty_throttle = pagerduty.Throttle(state.settings.alert_sources.pagerduty)
    return state.pagerduty_throttle


async def _pagerduty(request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    integrations = request.app.state.settings.alert_sources.by_routing_key
    body = await request.body()
    now = runtime.clock.now()
    try:
        alert, dedup_key = pagerduty.read_event(body, integrations, now)
    except pagerduty.InvalidEvent as error:
        return JSONResponse(pagerduty.invalid(error.errors), status_code=400)
    refusal = _throttle(request).refusal(alert.labels["integration"], now)
    if refusal is not None:  # PagerDuty answers 429 and ingests nothing; senders retry it
        answer, retry_after = refusal
        return JSONResponse(answer, status_code=429, headers={"Retry-After": retry_after})
    try:
        await ingest_of(runtime).receive_alerts(
            [alert], actor=f"pagerduty:{alert.labels['integration']}", cause=request_cause(request))
    except IntegrityError:
        return JSONResponse({"status": "error", "message": CONFLICTED}, status_code=503,
                            headers={"Retry-After": "1"})
    return JSONResponse(pagerduty.success(dedup_key), status_code=202)


for path in ("/v2/enqueue", "/v1/ingest/pagerduty"):
    pagerduty_router.add_api_route(
        path, _pagerduty, methods=["POST"], status_code=202, response_model=PagerDutyResult,
        summary="PagerDuty Events API v2: trigger, acknowledge or resolve an alert",
        description="One event per request, as PagerDuty's own endpoint takes it. The "
                    "routing_key must be a configured integration's key.",
        openapi_extra=body_schema(PagerDutyEvent), responses=PD_RESPONSES)


@router.post("/ingest/webhook/{source}", response_model=IngestResult, dependencies=ingest,
             summary="Receive alerts in a sender's own JSON, read through its configured mapping",
             responses={404: {"model": ErrorBody}, 503: {"model": ErrorBody, "description": CONFLICTED}})
async def mapped_webhook(source: str, request: Request) -> dict[str, int] | JSONResponse:
    """A part the mapping requires that matches nothing refuses the whole request (422,
    naming the alert and the path); nothing is stored then."""
    runtime = runtime_of(request)
    mapping = request.app.state.settings.alert_sources.webhooks.get(source)
    if mapping is None:
        known = ", ".join(request.app.state.settings.alert_sources.webhooks) or "none configured"
        return error_response(404, "source", f"no webhook source '{source[:40]}' (known: {known})",
                              "configure it under webhooks in the detector's alert sources")
    body = await request.body()
    alerts = await asyncio.to_thread(webhook_alerts, body, source, mapping, runtime.clock.now())
    try:
        return await ingest_of(runtime).receive_alerts(
            alerts, actor=f"webhook:{source}:{caller(request)}", cause=request_cause(request))
    except IntegrityError:
        raise HTTPException(503, CONFLICTED, headers={"Retry-After": "1"}) from None


@router.post("/events", response_model=IngestResult, dependencies=ingest,
             summary="Record individual events (a complaint, a late delivery) to be counted")
async def post_events(batch: EventBatch, request: Request) -> dict[str, Any]:
    """Each event adds one to its entity's count in the current window of its counted metric
    (`kind`); rules on that metric see the count (docs/rules.md, Counted events). Unknown
    kinds refuse the whole batch (422). `rejected` lists, by event index, events whose window
    had already closed for that entity (`window_closed`)."""
    runtime = runtime_of(request)
    evaluator = evaluator_of(runtime)
    now = runtime.clock.now().timestamp()
    try:
        evaluator.check_evaluating()
        metrics = counting.check_kinds(batch, await asyncio.to_thread(runtime.application.catalogue), now)
        made: dict[str, Any] = {}

        def make(latest: dict) -> Any:
            samples, made["origin"], made["refused"] = counting.counted_batch(batch, metrics, latest, now)
            return samples

        keys = list(dict.fromkeys((e.kind, e.entity) for e in batch.events))
        result = await evaluator.ingest_counted(make, keys=keys, actor=caller(request),
                                                cause=request_cause(request))
    except StandingBy as error:
        raise HTTPException(503, str(error),
                            headers={"Retry-After": str(STANDBY_RETRY_SECONDS)}) from None
    rejected = made["refused"] + [{"index": made["origin"][r["index"]], "reason": r["reason"]}
                                  for r in result["rejected"]]
    return {**result, "rejected": sorted(rejected, key=lambda r: r["index"])}
