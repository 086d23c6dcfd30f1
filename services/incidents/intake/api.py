"""HTTP routes of manual intake: the problem types, a proposal while the person types, a
correction of an incident's classification, and the learned model's state."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from shared.auth import Role, acting_as, require
from shared.http import request_cause, runtime_of

from services.incidents.domain.errors import DowngradeNeedsManager
from services.incidents.intake.classifier import Classifier, report_text
from services.incidents.intake.schemas import (
    ClassificationCorrect, ModelStatus, ProblemTypeRead, Proposal, ProposalAsk,
)
from services.incidents.intake.training import retrain
from services.incidents.schemas import IncidentRead

router = APIRouter(tags=["intake"])
viewer = [Depends(require(Role.VIEWER))]
responder = [Depends(require(Role.RESPONDER))]


def _classifier(request: Request) -> Classifier:
    return request.app.state.classifier


@router.get("/v1/intake/problem-types", response_model=list[ProblemTypeRead],
            dependencies=viewer)
def problem_types(request: Request) -> list[dict[str, Any]]:
    """The catalogue's types, in its order (what a form offers)."""
    return [{"id": t.id, "name_zh": t.name_zh, "name_en": t.name_en, "severity": t.severity}
            for t in _classifier(request).catalogue.types.values()]


@router.post("/v1/intake/proposals", response_model=Proposal, dependencies=responder)
def propose(body: ProposalAsk, request: Request) -> dict[str, Any]:
    """Classify a report without recording anything, e.g. as a form is filled in."""
    return _classifier(request).propose(report_text(body.title, body.summary, body.description))


@router.post("/v1/incidents/{id_or_ref}/classification", response_model=IncidentRead,
             dependencies=responder,
             responses={403: {"description": "lowering a severity needs the manager role"}})
def correct(id_or_ref: str, body: ClassificationCorrect, request: Request) -> dict[str, Any]:
    """Correct the problem type and/or severity; the type becomes a training label. Raising
    the severity: responders; lowering it: managers (as on /severity)."""
    _classifier(request).catalogue.check_type(body.problem_type)
    manager = getattr(request.state, "role", Role.VIEWER).rank >= Role.MANAGER.rank
    try:
        return runtime_of(request).application.correct_classification(
            id_or_ref, body.problem_type, body.severity, body.reason,
            acting_as(request, body.by), request_cause(request), manager=manager)
    except DowngradeNeedsManager as refused:
        raise HTTPException(403, str(refused)) from None


@router.get("/v1/intake/model", response_model=ModelStatus, dependencies=viewer)
def model_status(request: Request) -> dict[str, Any]:
    return _classifier(request).status


@router.post("/v1/intake/model/train", response_model=ModelStatus,
             dependencies=[Depends(require(Role.MANAGER))])
async def train(request: Request) -> dict[str, Any]:
    """Retrain now on every label (it also retrains on start and every N labels)."""
    return await retrain(runtime_of(request), _classifier(request))
