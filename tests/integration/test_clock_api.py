"""The adjustable clock (CLOSEDLOOP_CLOCK_ADJUSTABLE) on a running service: off, there is no
clock route; on, admins move the service's clock forward and the application reads the moved
time, viewers only look, and a step backwards or of nothing is refused naming `seconds`."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from tests.harness import API_KEYS, VIEWER_KEY, RunningService

pytestmark = pytest.mark.integration


def capa(database_url: str, nats_url: str, clock: ManualClock, **settings) -> RunningService:
    return RunningService(create_app(CapaSettings(database_url=database_url, nats_url=nats_url,
                                                  api_keys=API_KEYS, **settings), clock=clock))


def test_admins_move_a_service_clock_forward_when_the_setting_is_on(database_url, nats_url):
    clock = ManualClock()
    service = capa(database_url, nats_url, clock, clock_adjustable=True).start()
    try:
        with service.client(VIEWER_KEY) as viewer:
            shown = viewer.get("/v1/clock").json()
            assert (shown["service"], shown["offset_seconds"]) == ("capa", 0)
            assert viewer.post("/v1/clock/advance", json={"seconds": 900}).status_code == 403
        with service.client() as admin:
            moved = admin.post("/v1/clock/advance", json={"seconds": 900})
            assert moved.status_code == 200, moved.text
            assert moved.json()["offset_seconds"] == 900
            for wrong in (-5, 0):
                refused = admin.post("/v1/clock/advance", json={"seconds": wrong})
                assert refused.status_code == 422
                assert refused.json()["errors"][0]["field"] == "seconds"
        # Everything in the service reads the moved clock; its base keeps its own time.
        assert service.runtime.application.clock.now() == clock.now() + timedelta(seconds=900)
    finally:
        service.stop()


def test_without_the_setting_there_is_no_clock_to_move(database_url, nats_url):
    service = capa(database_url, nats_url, ManualClock()).start()
    try:
        with service.client() as admin:
            assert admin.post("/v1/clock/advance", json={"seconds": 900}).status_code == 404
            assert admin.get("/v1/clock").status_code == 404
    finally:
        service.stop()
