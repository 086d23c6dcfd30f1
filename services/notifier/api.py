"""HTTP routes: managers define, edit and disable channels and policies and rotate channel
secrets; anyone with a key can see what was sent, what was retried, and which escalations
fired (viewers and responders see why a message failed only as a generic reason)."""
from __future__ import annotations

import json
from typing import Literal
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from services.notifier.app import NotifierApplication
from services.notifier.domain import DeliveryStatus, EscalationStatus
from services.notifier.schemas import (
    ChannelCreate, ChannelPage, ChannelRead, ChannelUpdate, DeliveryDetailRead,
    DeliveryMessageRead, DeliveryPage,
    EscalationPage, PolicyCreate, PolicyPage, PolicyRead, PolicyUpdate, SecretRotate,
    SecretRotated,
)
from services.notifier.views import for_viewer
from shared.auth import Role, caller, require
from shared.http import Offset, request_cause, runtime_of

router = APIRouter(prefix="/v1")
manager = [Depends(require(Role.MANAGER))]
viewer = [Depends(require(Role.VIEWER))]


def app_of(request: Request) -> NotifierApplication:
    return runtime_of(request).application


async def read_page(request: Request, table: str, where: str, order: str, args: tuple,
                    limit: int | None = None, offset: int = 0) -> dict:
    page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"
    try:
        async with runtime_of(request).pool.acquire() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM {table} WHERE {where}", *args)
            rows = await conn.fetch(
                f"SELECT * FROM {table} WHERE {where} ORDER BY {order}{page}", *args)
    except asyncpg.UndefinedTableError:  # the projection has not created its tables yet
        return {"items": [], "total": 0}
    return {"items": [dict(r) for r in rows], "total": total}


FILTERS = "($1::text IS NULL OR incident_id = $1) AND ($2::text IS NULL OR status = $2)"


@router.post("/channels", status_code=201, response_model=ChannelRead, dependencies=manager,
             tags=["channels"])
def register_channel(body: ChannelCreate, request: Request) -> dict:
    return app_of(request).register_channel(
        name=body.name, kind=body.kind, url=body.url, secret=body.secret, headers=body.headers,
        actor=caller(request), cause=request_cause(request))


@router.patch("/channels/{channel_id}", response_model=ChannelRead, dependencies=manager,
              tags=["channels"])
def update_channel(channel_id: UUID, body: ChannelUpdate, request: Request) -> dict:
    return app_of(request).update_channel(
        channel_id, name=body.name, url=body.url, headers=body.headers, enabled=body.enabled,
        why=body.disabled_reason, actor=caller(request), cause=request_cause(request))


@router.post("/channels/{channel_id}/rotate-secret", response_model=SecretRotated,
             dependencies=manager, tags=["channels"])
def rotate_channel_secret(channel_id: UUID, body: SecretRotate, request: Request) -> dict:
    return app_of(request).rotate_channel_secret(
        channel_id, secret=body.secret, grace_seconds=body.grace_seconds,
        actor=caller(request), cause=request_cause(request))


@router.get("/channels", dependencies=viewer, response_model=ChannelPage, tags=["channels"])
async def list_channels(request: Request) -> dict:
    return await read_page(request, "channels", "true", "name", ())


@router.post("/policies", status_code=201, response_model=PolicyRead, dependencies=manager,
             tags=["policies"])
def define_policy(body: PolicyCreate, request: Request) -> dict:
    ladder = body.model_dump(mode="json", exclude_none=True, exclude={"name", "severities"})
    return app_of(request).define_policy(
        name=body.name, severities=[str(s) for s in body.severities], actor=caller(request),
        cause=request_cause(request), **ladder)


@router.patch("/policies/{policy_id}", response_model=PolicyRead, dependencies=manager,
              tags=["policies"])
def update_policy(policy_id: UUID, body: PolicyUpdate, request: Request) -> dict:
    # null means "leave as it is", like a field left out
    changes = body.model_dump(mode="json", exclude_none=True,
                              exclude={"enabled", "disabled_reason"})
    if changes.get("retrigger_after_seconds") == 0:
        changes["retrigger_after_seconds"] = None
    return app_of(request).update_policy(
        policy_id, changes=changes, enabled=body.enabled, why=body.disabled_reason,
        actor=caller(request), cause=request_cause(request))


@router.get("/policies", dependencies=viewer, response_model=PolicyPage, tags=["policies"])
async def list_policies(request: Request) -> dict:
    page = await read_page(request, "policies", "true", "name", ())
    for policy in page["items"]:
        policy["steps"] = json.loads(policy["steps"])  # jsonb comes back as text
        policy.update(json.loads(policy.pop("digest") or "{}"))
    return page


@router.get("/deliveries", dependencies=viewer, response_model=DeliveryPage, tags=["deliveries"])
async def list_deliveries(request: Request, incident_id: str | None = None,
                          status: DeliveryStatus | None = None,
                          limit: int = Query(100, ge=1, le=1000),
                          offset: Offset = 0) -> dict:
    page = await read_page(request, "deliveries", FILTERS, "created_at, id",
                           (incident_id, str(status) if status else None), limit, offset)
    if not sees_details(request):
        page["items"] = [for_viewer(item) for item in page["items"]]
    return page


@router.get("/deliveries/{delivery_id}", dependencies=viewer, response_model=DeliveryDetailRead,
            tags=["deliveries"])
def get_delivery(delivery_id: UUID, request: Request) -> dict:
    delivery = app_of(request).delivery(delivery_id)
    return delivery if sees_details(request) else for_viewer(delivery)


@router.get("/deliveries/{delivery_id}/message", dependencies=viewer,
            response_model=DeliveryMessageRead, tags=["deliveries"],
            summary="What its reader got: the message as its channel renders it")
def get_delivery_message(delivery_id: UUID, request: Request,
                         medium: Literal["chat", "email", "sms"] | None = Query(
                             None, description="another form than the channel's")) -> dict:
    return app_of(request).delivery_message(
        delivery_id, medium=medium, public_url=runtime_of(request).settings.public_url)


def sees_details(request: Request) -> bool:
    """Detailed delivery errors can name internal hosts and addresses: managers only."""
    return getattr(request.state, "role", Role.VIEWER).rank >= Role.MANAGER.rank


@router.get("/escalations", dependencies=viewer, response_model=EscalationPage,
            tags=["escalations"])
async def list_escalations(request: Request, incident_id: str | None = None,
                           status: EscalationStatus | None = None,
                           limit: int = Query(100, ge=1, le=1000),
                           offset: Offset = 0) -> dict:
    return await read_page(request, "escalations", FILTERS, "due_at, id",
                           (incident_id, str(status) if status else None), limit, offset)
