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
from services.incidents.board_api import router as board_router
from services.incidents.board_feed import listen_board
from services.incidents.board_summary import router as summary_router
from services.incidents.board_views import BoardProjection
from services.incidents.app import IncidentsApplication
from services.incidents.consumer import subscriptions
from services.incidents.checklist_api import router as checklist_router
from services.incidents.checklist_templates import load_checklists
from services.incidents.closing_api import router as closing_router
from services.incidents.intake.api import router as intake_router
from services.incidents.intake.catalogue import load_catalogue
from services.incidents.intake.classifier import Classifier
from services.incidents.intake.training import IntakeExamplesProjection, retrainer
from services.incidents.lifecycle_api import router as lifecycle_router
from services.incidents.observation_watch import watch_observations
from services.incidents.projections import IncidentsProjection
from services.incidents.reports.api import router as reports_router
from services.incidents.reports.facts import ReportFactsProjection
from services.incidents.settings import IncidentsSettings
from services.incidents.sla_api import policies_router as sla_policies_router
from services.incidents.sla_api import router as sla_router
from services.incidents.sla_policies import load_policies
from services.incidents.tier_api import router as tier_router, score_router
from services.incidents.translate import to_contract
from services.incidents.triage_api import router as triage_router
from services.incidents.whoami_api import router as whoami_router
from services.incidents.workers import watch_sla, watch_storms


def service_parts(clock: Clock | None = None,
                  settings: IncidentsSettings | None = None) -> ServiceParts:
    settings = settings or IncidentsSettings()
    grouping, storm = settings.grouping(), settings.storm_rule()
    sla_policies = load_policies(settings.sla_policies_file)
    closing = settings.closing_policy()
    checklists = load_checklists(settings.checklists_file)
    classifier = classifier_of(settings)
    parts = ServiceParts(
        application=lambda env, clk: IncidentsApplication(env, clk, grouping, storm,
                                                          sla_policies, closing,
                                                          checklists=checklists),
        translate=to_contract,
        subscribe=subscriptions,
        projections=[IncidentsProjection(), IntakeExamplesProjection(), ReportFactsProjection(),
                     BoardProjection()],
        workers=[watch_sla, watch_storms, watch_observations, listen_board,
                 retrainer(classifier, settings.classifier_retrain_every,
                           settings.sla_poll_seconds)],
        clock=clock or SystemClock(),
    )
    parts.classifier = classifier  # type: ignore[attr-defined]  # the routes reach it via state
    return parts


def classifier_of(settings: IncidentsSettings) -> Classifier:
    return Classifier(load_catalogue(settings.problem_types_file or None),
                      min_examples=settings.classifier_min_examples,
                      model_threshold=settings.classifier_model_threshold)


def create_app(settings: IncidentsSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or IncidentsSettings()
    parts = service_parts(clock, settings)
    api = build_api(
        settings,
        parts,
        routers=[router, lifecycle_router, triage_router, sla_router, sla_policies_router,
                 closing_router, intake_router, tier_router, checklist_router,
                 reports_router, summary_router, board_router, whoami_router],
        # The one-click acknowledge and satisfaction links: the signed link is the credential.
        open_routers=[ack_router, score_router],
        title="closedloop incidents",
        description="Alerts deduplicated into P0–P3 incidents with SLA clocks; acknowledge, "
                    "resolve and follow each incident's timeline to its verified closure.",
    )
    api.state.classifier = parts.classifier  # type: ignore[attr-defined]
    api.state.ack_links = AckLinks(settings.ack_link_key) if settings.ack_link_key else None
    # The requester's satisfaction links are signed with the same keys, in their own scope.
    api.state.score_links = (AckLinks(settings.ack_link_key, salt=SCORE_SALT)
                             if settings.ack_link_key else None)
    return api
