"""Detector composition root."""
from __future__ import annotations

from fastapi import FastAPI

from shared.clock import Clock, SystemClock
from shared.http import build_api
from shared.service import ServiceParts

from services.detector.api import router
from services.detector.app import DetectorApplication
from services.detector.projections import DetectorBoard
from services.detector.settings import DetectorSettings
from services.detector.translate import to_contract


def service_parts(clock: Clock | None = None) -> ServiceParts:
    return ServiceParts(
        application=lambda env, clk: DetectorApplication(env, clk),
        translate=to_contract,
        projections=[DetectorBoard()],
        clock=clock or SystemClock(),
    )


def create_app(settings: DetectorSettings | None = None, clock: Clock | None = None) -> FastAPI:
    return build_api(settings or DetectorSettings(), service_parts(clock), [router],
                     title="closedloop detector",
                     description="Metric samples and external alerts in; AlertRaised / AlertResolved out.")
