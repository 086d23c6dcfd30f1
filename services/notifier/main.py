"""Composition root of the notifier: create_app(settings, clock) wires everything; nothing
connects before the lifespan starts."""
from __future__ import annotations

from fastapi import FastAPI

from services.notifier.api import router
from services.notifier.app import NotifierApplication
from services.notifier.consumer import subscriptions
from services.notifier.oncall.api import router as schedules_router
from services.notifier.oncall.projection import SchedulesProjection
from services.notifier.digests.api import router as digests_router
from services.notifier.digests.projection import DigestsProjection
from services.notifier.digests.worker import send_digests
from services.notifier.page_links import PageLinks
from services.notifier.directory.api import router as directory_router
from services.notifier.directory.projection import DirectoryProjection
from services.notifier.holds.api import router as holds_router
from services.notifier.holds.projection import OpeningsProjection
from services.notifier.holds.worker import release_held
from services.notifier.messages.render import install as install_renderer
from services.notifier.projections import NotifierProjection
from services.notifier.quiet.api import router as quiet_router
from services.notifier.quiet.projection import QuietProjection
from services.notifier.raci.api import router as raci_router
from services.notifier.raci.projection import DeadlinesProjection
from services.notifier.raci.worker import chase_due
from services.notifier.sealing import Sealer
from services.notifier.settings import NotifierSettings
from services.notifier.support.api import router as support_router
from services.notifier.translate import to_contract
from services.notifier.escalation_worker import escalate_due
from services.notifier.workers import deliver_due
from shared.clock import Clock, SystemClock
from shared.http import build_api
from shared.service import ServiceParts


def service_parts(settings: NotifierSettings | None = None, clock: Clock | None = None) -> ServiceParts:
    settings = settings or NotifierSettings()
    sealer = Sealer(settings.secrets_key)
    egress, max_attempts = settings.egress, settings.delivery_max_attempts
    limits = settings.limits  # one per process: the window is counted in this worker
    page_links = PageLinks.from_settings(settings)
    return ServiceParts(
        application=lambda env, clk: NotifierApplication(
            env, clk, sealer=sealer, egress=egress, max_attempts=max_attempts,
            contact_limits=limits, page_links=page_links),
        translate=to_contract,
        subscribe=subscriptions,
        projections=[NotifierProjection(), QuietProjection(), SchedulesProjection(),
                     DirectoryProjection(), DeadlinesProjection(), OpeningsProjection(),
                     DigestsProjection()],
        workers=[deliver_due, escalate_due, chase_due, release_held, send_digests],
        clock=clock or SystemClock(),
    )


def create_app(settings: NotifierSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or NotifierSettings()
    Sealer(settings.secrets_key).require()  # no key, no start: secrets are never stored in clear
    # The operator's templates, compiled once before any page, for every render() call.
    install_renderer(settings.message_renderer())
    return build_api(
        settings,
        service_parts(settings, clock),
        routers=[router, quiet_router, schedules_router, directory_router, raci_router,
                 holds_router, digests_router, support_router],
        title="closedloop notifier",
        description="Containment: tells the right people on the right channels, signs every "
                    "webhook, retries with backoff, and escalates when nobody acknowledges.",
    )
