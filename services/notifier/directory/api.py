"""HTTP routes of the organisation: managers change people, teams, units and the entity
labels; viewers read them and ask who holds a role for an entity."""
from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.notifier.api import app_of, manager, read_page, viewer
from services.notifier.directory.schemas import (
    DirectoryRead, OrganisationRead, OrganisationUpdate, PersonCreate, PersonPage, PersonRead,
    PersonUpdate, ResolutionRead, RoleHoldersRead, TeamCreate, TeamPage, TeamRead, TeamUpdate,
    UnitCreate, UnitPage, UnitRead, UnitUpdate,
)
from shared.auth import caller
from shared.http import Offset, request_cause
from shared.limits import NAME

router = APIRouter(prefix="/v1")
LABEL_PREFIX = "label."
# Fields whose null is a value (no working hours, no schedule, a root unit), not "unchanged".
NULLABLE = {"working_hours", "schedule", "parent"}
Limit = Query(100, ge=1, le=1000)


def changes_of(body: BaseModel, *, leave_out: set[str] = frozenset()) -> dict[str, Any]:
    given = body.model_dump(mode="json", exclude_unset=True, exclude=leave_out)
    return {k: v for k, v in given.items() if v is not None or k in NULLABLE}


def who(request: Request) -> dict[str, Any]:
    return {"actor": caller(request), "cause": request_cause(request)}


async def page(request: Request, table: str, where: str, order: str, args: tuple,
               limit: int, offset: int, json_columns: tuple[str, ...]) -> dict:
    found = await read_page(request, table, where, order, args, limit, offset)
    for item in found["items"]:
        for column in json_columns:
            item[column] = json.loads(item[column]) if item[column] is not None else None
    return found


# -- people ---------------------------------------------------------------------------------
@router.post("/people", status_code=201, response_model=PersonRead, dependencies=manager,
             tags=["organisation"])
def add_person(body: PersonCreate, request: Request) -> dict:
    return app_of(request).add_person(definition=body.model_dump(mode="json"), **who(request))


@router.get("/people", response_model=PersonPage, dependencies=viewer, tags=["organisation"])
async def list_people(request: Request, left: bool | None = None, limit: int = Limit,
                      offset: Offset = 0) -> dict:
    return await page(request, "people", '($1::boolean IS NULL OR "left" = $1)', "handle",
                      (left,), limit, offset, ("working_hours", "contacts"))


@router.get("/people/{handle}", response_model=PersonRead, dependencies=viewer,
            tags=["organisation"])
def get_person(handle: str, request: Request) -> dict:
    return app_of(request).person_of(handle)


@router.patch("/people/{handle}", response_model=PersonRead, dependencies=manager,
              tags=["organisation"])
def update_person(handle: str, body: PersonUpdate, request: Request) -> dict:
    return app_of(request).update_person(
        handle, changes=changes_of(body, leave_out={"left", "left_reason"}), left=body.left,
        why=body.left_reason, **who(request))


# -- teams ----------------------------------------------------------------------------------
@router.post("/teams", status_code=201, response_model=TeamRead, dependencies=manager,
             tags=["organisation"])
def form_team(body: TeamCreate, request: Request) -> dict:
    return app_of(request).form_team(definition=body.model_dump(mode="json"), **who(request))


@router.get("/teams", response_model=TeamPage, dependencies=viewer, tags=["organisation"])
async def list_teams(request: Request, member: str | None = Query(None, max_length=NAME),
                     limit: int = Limit, offset: Offset = 0) -> dict:
    return await page(request, "teams", "NOT disbanded AND ($1::text IS NULL OR $1 = ANY(members))",
                      "name", (member,), limit, offset, ())


@router.get("/teams/{name}", response_model=TeamRead, dependencies=viewer,
            tags=["organisation"])
def get_team(name: str, request: Request) -> dict:
    return app_of(request).team_of(name)


@router.patch("/teams/{name}", response_model=TeamRead, dependencies=manager,
              tags=["organisation"])
def update_team(name: str, body: TeamUpdate, request: Request) -> dict:
    return app_of(request).update_team(name, changes=changes_of(body), **who(request))


@router.delete("/teams/{name}", status_code=204, dependencies=manager, tags=["organisation"])
def disband_team(name: str, request: Request,
                 why: str | None = Query(None, max_length=500)) -> None:
    app_of(request).disband_team(name, why=why, **who(request))


# -- units ----------------------------------------------------------------------------------
@router.post("/units", status_code=201, response_model=UnitRead, dependencies=manager,
             tags=["organisation"])
def define_unit(body: UnitCreate, request: Request) -> dict:
    return app_of(request).define_unit(definition=body.model_dump(mode="json"), **who(request))


@router.get("/units", response_model=UnitPage, dependencies=viewer, tags=["organisation"])
async def list_units(request: Request, parent: str | None = Query(None, max_length=NAME),
                     limit: int = Limit, offset: Offset = 0) -> dict:
    return await page(request, "units", "NOT removed AND ($1::text IS NULL OR parent = $1)",
                      "key", (parent,), limit, offset, ("roles",))


@router.get("/units/{key}", response_model=UnitRead, dependencies=viewer,
            tags=["organisation"])
def get_unit(key: str, request: Request) -> dict:
    return app_of(request).unit_of(key)


@router.patch("/units/{key}", response_model=UnitRead, dependencies=manager,
              tags=["organisation"])
def update_unit(key: str, body: UnitUpdate, request: Request) -> dict:
    return app_of(request).update_unit(key, changes=changes_of(body), **who(request))


@router.delete("/units/{key}", status_code=204, dependencies=manager, tags=["organisation"])
def remove_unit(key: str, request: Request,
                why: str | None = Query(None, max_length=500)) -> None:
    app_of(request).remove_unit(key, why=why, **who(request))


@router.get("/units/{key}/roles/{role}", response_model=RoleHoldersRead, dependencies=viewer,
            tags=["organisation"])
def unit_role(key: str, role: str, request: Request) -> dict:
    """Who holds the role for this unit: its own holders, else the nearest ancestor's."""
    return app_of(request).unit_role(key, role)


# -- the organisation -----------------------------------------------------------------------
@router.get("/organisation", response_model=OrganisationRead, dependencies=viewer,
            tags=["organisation"])
def get_organisation(request: Request) -> dict:
    found = app_of(request).whole_organisation()
    return {"entity_labels": found["entity_labels"], "updated_at": found["updated_at"]}


@router.put("/organisation", response_model=OrganisationRead, dependencies=manager,
            tags=["organisation"])
def set_organisation(body: OrganisationUpdate, request: Request) -> dict:
    return app_of(request).set_entity_labels(body.entity_labels, **who(request))


@router.get("/directory", response_model=DirectoryRead, dependencies=viewer,
            tags=["organisation"])
def get_directory(request: Request) -> dict:
    """The whole organisation as stored (not the read tables): settings, people, teams and
    units, consistent with the last change."""
    return app_of(request).whole_organisation()


@router.get("/directory/resolve", response_model=ResolutionRead, dependencies=viewer,
            tags=["organisation"])
def resolve(request: Request, entity: str = Query(min_length=1, max_length=NAME),
            role: str = Query(min_length=1, max_length=NAME)) -> dict:
    """Who holds `role` for `entity`: the entity's unit (listed on a unit, else the first
    mapped label among `label.<name>=<unit key>` parameters), then up the tree to the first
    unit with a holder who has not left."""
    labels = {k.removeprefix(LABEL_PREFIX): v for k, v in request.query_params.items()
              if k.startswith(LABEL_PREFIX)}
    return app_of(request).resolve_role(entity, labels, role)
