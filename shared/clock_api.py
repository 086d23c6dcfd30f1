"""Moving a service's clock forward over HTTP, for demos and rehearsals: `GET /v1/clock`
shows the service's time and how far it was moved, `POST /v1/clock/advance {"seconds": 900}`
moves it. Mounted only when CLOSEDLOOP_CLOCK_ADJUSTABLE is on (build_api wraps the service's
clock in an AdjustableClock then); admins only, since every timer of the service reads this
clock. See docs/adr/adjustable-clock.md."""
from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from shared.auth import Role, caller, require
from shared.clock import AdjustableClock

log = logging.getLogger(__name__)
# A year at most per call: enough for any story, and no datetime overflow.
MAX_STEP_SECONDS = 366 * 24 * 3600


class ClockRead(BaseModel):
    service: str
    now: datetime = Field(description="the service's time (every timer and event reads it)")
    offset_seconds: float = Field(description="how far it was moved ahead of its base clock")


class Advance(BaseModel):
    seconds: float = Field(gt=0, le=MAX_STEP_SECONDS, description="how far to move it forward")


def clock_routes(clock: AdjustableClock, service: str) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["clock"])

    def view() -> dict:
        return {"service": service, "now": clock.now(),
                "offset_seconds": clock.offset.total_seconds()}

    @router.get("/clock", response_model=ClockRead, dependencies=[Depends(require(Role.VIEWER))])
    def read_clock() -> dict:
        return view()

    @router.post("/clock/advance", response_model=ClockRead,
                 dependencies=[Depends(require(Role.ADMIN))])
    async def advance_clock(body: Advance, request: Request) -> dict:
        clock.advance(body.seconds)
        log.warning("%s: clock moved %gs forward by %s (now %s)", service, body.seconds,
                    caller(request), clock.now().isoformat())
        # Workers waiting for a change look again at once: what just fell due is acted on.
        request.app.state.runtime.read_models.notify()
        return view()

    return router
