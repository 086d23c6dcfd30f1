"""Detector composition root."""
from __future__ import annotations

from fastapi import FastAPI

from shared.clock import Clock, SystemClock
from shared.http import build_api
from shared.service import ServiceParts

from services.detector import (
    alert_samples_api, api, backtest_jobs_api, intake_api, rules_api,
)
from services.detector.app import DetectorApplication
from services.detector.consumer import subscriptions
from services.detector.projections import DetectorBoard
from services.detector.settings import DetectorSettings
from services.detector.translate import to_contract
from services.detector.workers import keep_time


def service_parts(clock: Clock | None = None) -> ServiceParts:
    return ServiceParts(
        application=lambda env, clk: DetectorApplication(env, clk),
        translate=to_contract,
        subscribe=subscriptions,
        projections=[DetectorBoard()],
        workers=[keep_time],
        clock=clock or SystemClock(),
    )


def create_app(settings: DetectorSettings | None = None, clock: Clock | None = None) -> FastAPI:
    routers = [api.router, intake_api.router, rules_api.router, backtest_jobs_api.router,
               alert_samples_api.router]
    return build_api(settings or DetectorSettings(), service_parts(clock), routers,
                     title="closedloop detector",
                     description="Metric samples, counted events and external alerts in; "
                                 "AlertRaised / AlertResolved out.",
                     open_routers=[intake_api.pagerduty_router])
