"""HTTP routes for the SLA pause under /v1/incidents: the incident awaits its requester
(待用户确认, the SLA clocks stop) and the requester answered (they run again, every deadline
moved on by the working time paused); and the SLA policies in force (GET /v1/sla-policies)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shared.auth import Role, acting_as, require
from shared.http import request_cause, runtime_of
from shared.limits import LongText, Name

from services.incidents.schemas import IncidentRead

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])
policies_router = APIRouter(prefix="/v1/sla-policies", tags=["incidents"])
responder = [Depends(require(Role.RESPONDER))]


class SlaPolicyRead(BaseModel):
    name: str = Field(description='"P1", "P0/food_safety", or "P1 default" when shipped')
    severity: str
    type: str | None = None
    calendar: str = Field(description='"24x7" or a calendar of the policy file')
    at_risk: float | None = Field(None, description="share of a target when it is at risk")
    targets: dict[str, float] = Field(description="respond, resolve, close: working seconds")


class SlaPoliciesRead(BaseModel):
    source: str | None = Field(None, description="the policy file; none: shipped defaults")
    policies: list[SlaPolicyRead]


@policies_router.get("", response_model=SlaPoliciesRead,
                     dependencies=[Depends(require(Role.VIEWER))])
def sla_policies(request: Request) -> dict[str, Any]:
    """The SLA policies this service applies, as read at start-up."""
    return runtime_of(request).application.sla_policies.view()


class AwaitRequester(BaseModel):
    reason: LongText = Field("", description="what the requester is asked (logs, a test …)")
    by: Name = Field(description="who sets it to await the requester")


class RequesterAnswered(BaseModel):
    by: Name = Field(description="who resumes it")


@router.post("/{id_or_ref}/await-requester", response_model=IncidentRead,
             dependencies=responder)
def await_requester(id_or_ref: str, body: AwaitRequester, request: Request) -> dict[str, Any]:
    """待用户确认: the respond, resolve and close clocks stop until the requester answers;
    409 when it already waits or is finished."""
    return runtime_of(request).application.await_requester(
        id_or_ref, body.reason, acting_as(request, body.by), request_cause(request))


@router.post("/{id_or_ref}/requester-answered", response_model=IncidentRead,
             dependencies=responder)
def requester_answered(id_or_ref: str, body: RequesterAnswered,
                       request: Request) -> dict[str, Any]:
    """The clocks run again; each running deadline moves on by the working time paused
    (on the policy's calendar). 409 when it was not waiting."""
    return runtime_of(request).application.requester_answered(
        id_or_ref, acting_as(request, body.by), request_cause(request))
