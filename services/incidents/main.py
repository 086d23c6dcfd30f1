"""Composition root of the incidents service: `create_app()` wires the application, its
consumers, outbox relay and read model into the shared HTTP shell."""
from __future__ import annotations

from fastapi import FastAPI

from shared.ack_links import SCORE_SALT, AckLinks
from shared.clock import Clock, SystemClock
from shared.http import build_api
from shared.service import ServiceParts

from services.incidents.ack_page import router as ack_router
from services.incidents.api import router
from services.incidents.app import IncidentsApplication
from services.incidents.consumer import subscriptions
from services.incidents.lifecycle_api import router as lifecycle_router
from services.incidents.projections import IncidentsProjection
from services.incidents.settings import IncidentsSettings
from services.incidents.tier_api import router as tier_router, score_router
from services.incidents.translate import to_contract
from services.incidents.workers import watch_sla


def service_parts(clock: Clock | None = None) -> ServiceParts:
    return ServiceParts(
        application=lambda env, clk: IncidentsApplication(env, clk),
        translate=to_contract,
        subscribe=subscriptions,
        projections=[IncidentsProjection()],
        workers=[watch_sla],
        clock=clock or SystemClock(),
    )


def create_app(settings: IncidentsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IncidentsSettings()
    api = build_api(
        settings,
        service_parts(clock),
        routers=[router, lifecycle_router, tier_router],
        # The one-click acknowledge and satisfaction links: the signed link is the credential.
        open_routers=[ack_router, score_router],
        title="closedloop incidents",
        description="Alerts deduplicated into P0–P3 incidents with SLA clocks; acknowledge, "
                    "resolve and follow each incident's timeline to its verified closure.",
    )
    api.state.ack_links = AckLinks(settings.ack_link_key) if settings.ack_link_key else None
    # The requester's satisfaction links are signed with the same keys, in their own scope.
    api.state.score_links = (AckLinks(settings.ack_link_key, salt=SCORE_SALT)
                             if settings.ack_link_key else None)
    return api
