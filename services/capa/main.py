"""Composition root of the capa service: `create_app()` wires the application, its consumer,
relay and read model into the shared HTTP shell."""
from __future__ import annotations

from fastapi import FastAPI

from services.capa.api import router
from services.capa.app import CapaApplication
from services.capa.consumer import subscriptions
from services.capa.knowledge.api import router as knowledge_router
from services.capa.knowledge.projection import KnowledgeBase
from services.capa.kpis.api import router as kpis_router
from services.capa.kpis.projection import CapaKpis
from services.capa.peers.api import router as peers_router
from services.capa.peers.projection import PeerSignals
from services.capa.projections import CapaCases
from services.capa.settings import CapaSettings
from services.capa.systemic_api import legacy as systemic_legacy_router
from services.capa.systemic_projection import SystemicProblemsRead
from services.capa.systemic_api import router as systemic_router
from services.capa.translate import to_contract
from services.capa.workers import watch_windows
from shared.clock import Clock, SystemClock
from shared.http import build_api
from shared.service import ServiceParts


def service_parts(clock: Clock | None = None,
                  settings: CapaSettings | None = None) -> ServiceParts:
    settings = settings or CapaSettings()
    windows, recurrence = settings.windows(), settings.recurrence()
    return ServiceParts(application=lambda env, clk: CapaApplication(env, clk, windows,
                                                                      recurrence),
                        translate=to_contract, subscribe=subscriptions,
                        projections=[CapaCases(), KnowledgeBase(), PeerSignals(), CapaKpis(),
                                     SystemicProblemsRead()],
                        workers=[watch_windows], clock=clock or SystemClock())


def create_app(settings: CapaSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or CapaSettings()
    return build_api(
        settings,
        service_parts(clock, settings),
        # The KPI and systemic routes come first: /v1/capa/kpis would otherwise be read as
        # a case id.
        routers=[kpis_router, systemic_legacy_router, router, knowledge_router, peers_router,
                 systemic_router],
        title="closedloop capa",
        description="Analysis and closure (分析 → 闭环): root cause, corrective and preventive "
                    "actions, verification by someone other than the owner, automatic closure.",
    )
