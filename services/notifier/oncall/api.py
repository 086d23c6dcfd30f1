"""HTTP routes of on-call schedules: managers define, revise and delete schedules and add or
remove overrides; viewers ask who is on call (and why), list shifts, and subscribe to the
iCalendar feeds of a schedule or of a person."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
from fastapi import APIRouter, Depends, Request, Response

from services.notifier.oncall.aggregate import ScheduleNotFound
from services.notifier.oncall.answers import answer_view, team_on_call, teams_attached, unit_on_call
from services.notifier.oncall.calendar import feed
from services.notifier.oncall.commands import on_call_view, shift_view
from services.notifier.oncall.schemas import (
    OnCallRead, OverrideCreate, OverrideRead, ScheduleCreate, ScheduleDefinition,
    SchedulePage, ScheduleRead, ShiftPage, TeamOnCallRead, UnitOnCallRead,
)
from shared.auth import Role, caller, require
from shared.http import request_cause, runtime_of

router = APIRouter(prefix="/v1", tags=["schedules"])
manager = [Depends(require(Role.MANAGER))]
viewer = [Depends(require(Role.VIEWER))]
# What a calendar subscription shows: the recent past and the coming quarter.
FEED_PAST, FEED_AHEAD = timedelta(days=7), timedelta(days=90)
ICS = "text/calendar; charset=utf-8"
ICS_RESPONSE = {200: {"content": {"text/calendar": {"schema": {"type": "string"}}},
                      "description": "an iCalendar (RFC 5545) feed"}}


def app_of(request: Request):
    return runtime_of(request).application


def definition_of(body: ScheduleDefinition, name: str) -> dict:
    return {**body.model_dump(exclude={"name"}), "name": name}


@router.post("/schedules", status_code=201, response_model=ScheduleRead, dependencies=manager)
def define_schedule(body: ScheduleCreate, request: Request) -> dict:
    return app_of(request).define_schedule(definition_of(body, body.name),
                                           actor=caller(request), cause=request_cause(request))


@router.get("/schedules", response_model=SchedulePage, dependencies=viewer)
async def list_schedules(request: Request) -> dict:
    try:
        async with runtime_of(request).pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM schedules WHERE NOT deleted ORDER BY name")
    except asyncpg.UndefinedTableError:  # the projection has not created its tables yet
        rows = []
    return {"items": [dict(r) for r in rows], "total": len(rows)}


@router.get("/schedules/{name}", response_model=ScheduleRead, dependencies=viewer)
def get_schedule(name: str, request: Request) -> dict:
    return app_of(request).schedule(name)


@router.put("/schedules/{name}", response_model=ScheduleRead, dependencies=manager)
def revise_schedule(name: str, body: ScheduleDefinition, request: Request) -> dict:
    return app_of(request).revise_schedule(name, definition_of(body, name),
                                           actor=caller(request), cause=request_cause(request))


@router.delete("/schedules/{name}", status_code=204, dependencies=manager)
def delete_schedule(name: str, request: Request) -> Response:
    app_of(request).delete_schedule(name, actor=caller(request), cause=request_cause(request))
    return Response(status_code=204)


@router.post("/schedules/{name}/overrides", status_code=201, response_model=OverrideRead,
             dependencies=manager)
def add_override(name: str, body: OverrideCreate, request: Request) -> dict:
    return app_of(request).add_override(name, body.model_dump(), actor=caller(request),
                                        cause=request_cause(request))


@router.delete("/schedules/{name}/overrides/{override_id}", status_code=204, dependencies=manager)
def remove_override(name: str, override_id: str, request: Request) -> Response:
    app_of(request).remove_override(name, override_id, actor=caller(request),
                                    cause=request_cause(request))
    return Response(status_code=204)


@router.get("/schedules/{name}/on-call", response_model=OnCallRead, dependencies=viewer)
def who_is_on_call(name: str, request: Request, at: datetime | None = None) -> dict:
    answer = app_of(request).explain_on_call(name, at)
    return {"schedule": name, "at": answer.at,
            "on_call": [on_call_view(p) for p in answer.on_call],
            "set_aside": [on_call_view(p) for p in answer.set_aside]}


@router.get("/teams/{name}/on-call", response_model=TeamOnCallRead, dependencies=viewer,
            tags=["organisation"])
def team_is_on_call(name: str, request: Request, at: datetime | None = None) -> dict:
    """Who of the team is on call at `at` (default: now): its schedule's on-call people, or
    its members when it has none; what an escalation step naming the team tells."""
    app = app_of(request)
    chart = app.org_chart()
    answer = team_on_call(app, name, at or app.clock.now(), chart)
    return {"team": name, "schedule": chart.teams[name].get("schedule"), "at": answer.at,
            "on_call": answer_view(answer, chart), "unresolved": answer.unresolved}


@router.get("/units/{key}/on-call", response_model=UnitOnCallRead, dependencies=viewer,
            tags=["organisation"])
def unit_is_on_call(key: str, request: Request, at: datetime | None = None) -> dict:
    """Who answers for the unit at `at` (default: now): its own role holders, and the on-call
    people of the teams attached to it (one of their members holds a role in the unit)."""
    app = app_of(request)
    chart = app.org_chart()
    answer = unit_on_call(app, key, at or app.clock.now(), chart)
    return {"unit": key, "name": chart.units[key]["name"], "at": answer.at,
            "teams": teams_attached(chart, key), "on_call": answer_view(answer, chart),
            "unresolved": answer.unresolved}


@router.get("/schedules/{name}/shifts", response_model=ShiftPage, dependencies=viewer)
def list_shifts(name: str, request: Request, start: datetime | None = None,
                end: datetime | None = None) -> dict:
    app = app_of(request)
    start = start or app.clock.now()
    end = end or start + timedelta(days=7)
    found = app.schedule_shifts(name, start, end)
    return {"schedule": name, "start": start, "end": end, "items": [shift_view(s) for s in found]}


@router.get("/schedules/{name}/calendar.ics", response_class=Response, responses=ICS_RESPONSE,
            dependencies=viewer)
def schedule_calendar(name: str, request: Request) -> Response:
    app = app_of(request)
    now = app.clock.now()
    schedule = app.schedule(name)
    found = app.schedule_shifts(name, now - FEED_PAST, now + FEED_AHEAD)
    body = feed(f"On call: {name}", [(name, schedule["id"], s) for s in found], now)
    return Response(body, media_type=ICS)


@router.get("/people/{handle}/oncall.ics", response_class=Response, responses=ICS_RESPONSE,
            dependencies=viewer)
async def person_calendar(handle: str, request: Request) -> Response:
    names = await schedules_naming(request, handle)
    body = await asyncio.to_thread(person_feed, app_of(request), handle, names)
    return Response(body, media_type=ICS)


async def schedules_naming(request: Request, handle: str) -> list[str]:
    """Schedules that can put `handle` on call: as a member, or by an override."""
    try:
        async with runtime_of(request).pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT name FROM schedules s WHERE NOT deleted AND ($1 = ANY(members)
                   OR EXISTS (SELECT 1 FROM schedule_overrides o WHERE o.schedule_id = s.id
                              AND (o.person = $1 OR o.by_person = $1)))
                   ORDER BY name""", handle)
    except asyncpg.UndefinedTableError:
        return []
    return [r["name"] for r in rows]


def person_feed(app, handle: str, names: list[str]) -> bytes:
    now = app.clock.now()
    entries = []
    for name in names:
        try:
            schedule = app.schedule(name)
            found = app.schedule_shifts(name, now - FEED_PAST, now + FEED_AHEAD)
        except ScheduleNotFound:  # deleted since the read model was asked
            continue
        entries += [(name, schedule["id"], s) for s in found if s.handle == handle]
    entries.sort(key=lambda e: (e[2].start, e[0]))
    return feed(f"On call: {handle}", entries, now)
