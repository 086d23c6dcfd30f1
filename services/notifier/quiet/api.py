"""HTTP routes of the routing tree and the quiet rules: managers change them, anyone with a
key reads them and asks where an alert would go."""
# No `from __future__ import annotations`: the rule routes annotate bodies with local types.

import json
from enum import StrEnum
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response

from services.notifier.api import app_of, manager, read_page, viewer
from services.notifier.quiet.schemas import (
    InhibitionCreate, InhibitionPage, InhibitionRead, InhibitionUpdate, RoutesRead, RouteSpec,
    RouteTest, RouteTestRead, SilenceCreate, SilencePage, SilenceRead, WindowCreate,
    WindowPage, WindowRead, WindowUpdate,
)
from shared.auth import caller
from shared.http import Offset, request_cause

router = APIRouter(prefix="/v1")


# -- routes ------------------------------------------------------------------------------------

@router.get("/routes", dependencies=viewer, response_model=RoutesRead, tags=["routes"])
def get_routes(request: Request) -> dict:
    return app_of(request).routes()


@router.put("/routes", dependencies=manager, response_model=RoutesRead, tags=["routes"])
def put_routes(body: RouteSpec, request: Request) -> dict:
    return app_of(request).define_routes(body.model_dump(by_alias=True), caller(request),
                                         request_cause(request))


@router.post("/routes/test", dependencies=viewer, response_model=RouteTestRead, tags=["routes"])
def test_routes(body: RouteTest, request: Request) -> dict:
    return app_of(request).test_route(dict(body.labels))


# -- silences ----------------------------------------------------------------------------------

class SilenceFilter(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


STATES = {  # with $1 the clock's now
    SilenceFilter.PENDING: "$1 < starts_at",
    SilenceFilter.ACTIVE: "starts_at <= $1 AND $1 < ends_at",
    SilenceFilter.EXPIRED: "ends_at <= $1",
}


@router.post("/silences", status_code=201, dependencies=manager, response_model=SilenceRead,
             tags=["silences"])
def create_silence(body: SilenceCreate, request: Request) -> dict:
    app = app_of(request)
    return app.create_silence(matchers=body.matchers, starts_at=body.starts_at or app.clock.now(),
                              ends_at=body.ends_at, comment=body.comment,
                              actor=caller(request), cause=request_cause(request))


@router.get("/silences", dependencies=viewer, response_model=SilencePage, tags=["silences"])
async def list_silences(request: Request, state: SilenceFilter | None = None,
                        limit: int = Query(100, ge=1, le=1000), offset: Offset = 0) -> dict:
    now = app_of(request).clock.now()
    where = STATES[state] if state is not None else "$1::timestamptz IS NOT NULL"
    page = await read_page(request, "silences", where, "ends_at DESC, id", (now,), limit, offset)
    for item in page["items"]:
        item["state"] = ("pending" if now < item["starts_at"] else
                         "active" if now < item["ends_at"] else "expired")
    return page


@router.get("/silences/{silence_id}", dependencies=viewer, response_model=SilenceRead,
            tags=["silences"])
def get_silence(silence_id: UUID, request: Request) -> dict:
    return app_of(request).silence(silence_id)


@router.delete("/silences/{silence_id}", dependencies=manager, response_model=SilenceRead,
               tags=["silences"])
def expire_silence(silence_id: UUID, request: Request) -> dict:
    """Expire it now (it stays listed, as expired)."""
    return app_of(request).expire_silence(silence_id, caller(request), request_cause(request))


# -- maintenance windows and inhibition rules --------------------------------------------------

def rule_routes(kind: str, path: str, table: str, create: type, update: type, read: type,
                page: type, tag: str) -> None:
    """The same five routes for each kind of named rule."""

    @router.post(path, status_code=201, dependencies=manager, response_model=read, tags=[tag],
                 name=f"define_{kind}")
    def define(body: create, request: Request) -> dict:  # type: ignore[valid-type]
        return app_of(request).define_rule(kind, body.model_dump(), caller(request),
                                           request_cause(request))

    @router.get(path, dependencies=viewer, response_model=page, tags=[tag], name=f"list_{kind}")
    async def list_(request: Request, limit: int = Query(100, ge=1, le=1000),
                    offset: Offset = 0) -> dict:
        found = await read_page(request, table, "true", "name", (), limit, offset)
        found["items"] = [{**json.loads(row.pop("definition")), **row} for row in found["items"]]
        return found

    @router.get(path + "/{rule_id}", dependencies=viewer, response_model=read, tags=[tag],
                name=f"get_{kind}")
    def get(rule_id: UUID, request: Request) -> dict:
        return app_of(request).rule(kind, rule_id)

    @router.put(path + "/{rule_id}", dependencies=manager, response_model=read, tags=[tag],
                name=f"revise_{kind}")
    def revise(rule_id: UUID, body: update, request: Request) -> dict:  # type: ignore[valid-type]
        return app_of(request).revise_rule(kind, rule_id, body.model_dump(), caller(request),
                                           request_cause(request))

    @router.delete(path + "/{rule_id}", status_code=204, dependencies=manager, tags=[tag],
                   name=f"delete_{kind}")
    def delete(rule_id: UUID, request: Request) -> Response:
        app_of(request).delete_rule(kind, rule_id, caller(request), request_cause(request))
        return Response(status_code=204)


rule_routes("window", "/maintenance-windows", "maintenance_windows", WindowCreate, WindowUpdate,
            WindowRead, WindowPage, "maintenance windows")
rule_routes("inhibition", "/inhibition-rules", "inhibition_rules", InhibitionCreate,
            InhibitionUpdate, InhibitionRead, InhibitionPage, "inhibition rules")
