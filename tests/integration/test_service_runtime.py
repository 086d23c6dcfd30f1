"""The service runtime against real NATS and PostgreSQL: it needs only its database to start
and take writes, a NATS outage does not make it unready, and two releases with different
read-model shapes run side by side on one database."""
from __future__ import annotations

import asyncio

import httpx
import nats
import pytest

from closedloop.embedded.nats_server import NatsServer
from closedloop.embedded.ports import free_port
from shared.http import build_api
from shared.observability import ServiceMetrics
from shared.service import ServiceParts, ServiceRuntime
from shared.settings import ServiceSettings
from tests.harness import API_KEYS, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_projections import WiderBoard
from tests.integration.toy import SERVICE, ToyApplication, ToyBoard, eventually, to_contract

pytestmark = pytest.mark.integration
STREAM = "DETECTOR"  # the toy's increments leave as detector AlertRaised contracts


def toy_parts(board: ToyBoard | None = None) -> ServiceParts:
    return ServiceParts(application=lambda env, clock: ToyApplication(env, clock),
                        translate=to_contract, projections=[board or ToyBoard()])


def settings(database_url: str, nats_url: str) -> ServiceSettings:
    return ServiceSettings(service=SERVICE, database_url=database_url, nats_url=nats_url,
                           api_keys=API_KEYS, relay_poll_seconds=0.05)


def published(nats_url: str) -> int:
    async def count() -> int:
        nc = await nats.connect(nats_url)
        try:
            return (await nc.jetstream().stream_info(STREAM)).state.messages
        except Exception:
            return 0
        finally:
            await nc.close()
    return asyncio.run(count())


def readyz(service: RunningService) -> httpx.Response:
    return httpx.get(f"{service.url}/readyz", timeout=5)


def test_a_service_starts_and_takes_writes_without_nats_and_publishes_when_it_comes(
        database_url, tmp_path):
    bus = NatsServer(tmp_path / "nats", port=free_port())  # not started yet
    service = RunningService(build_api(settings(database_url, bus.url), toy_parts(), [],
                                       title="toy", description="toy")).start()
    try:
        assert readyz(service).json() == {"status": "ready"}
        service.runtime.application.increment("while-nats-is-down")

        bus.start()
        wait_until(lambda: published(bus.url) == 1, 30, "the stored write published")

        bus.stop()  # an outage while running: still ready, writes still taken
        response = readyz(service)
        assert response.status_code == 200 and response.json() == {"status": "ready"}
        service.runtime.application.increment("during-the-outage")
        assert readyz(service).status_code == 200

        bus.start()
        wait_until(lambda: published(bus.url) == 2, 30, "the outage's write published")
    finally:
        service.stop()
        bus.stop()


def test_readiness_shows_no_internals_and_the_details_need_a_key(database_url, nats_url):
    service = RunningService(build_api(settings(database_url, nats_url), toy_parts(), [],
                                       title="toy", description="toy")).start()
    try:
        assert readyz(service).json() == {"status": "ready"}
        anonymous = httpx.get(f"{service.url}/v1/health/details", timeout=5)
        assert anonymous.status_code == 401
        with service.client(VIEWER_KEY) as client:
            details = wait_until(lambda: (lambda d: d if d["bus"] == "connected" else None)(
                client.get("/v1/health/details").json()), message="bus connected")
        assert details["status"] == "ready"
        board = details["read_models"][ToyBoard.name]
        assert board["current"] == ToyBoard().version_schema(SERVICE)
        assert [v["caught_up"] for v in board["versions"]] == [True]
    finally:
        service.stop()


async def counters(runtime: ServiceRuntime) -> dict[str, int]:
    async with runtime.pool.acquire() as conn:
        return {r["name"]: r["value"] for r in await conn.fetch("SELECT name, value FROM toy_counters")}


async def test_two_releases_with_different_read_model_shapes_share_one_database(database_url):
    """Old and new pods of a rolling deploy: neither drops the other's tables, the new one
    becomes ready once its version has caught up, and both keep serving current reads."""
    nowhere = f"nats://127.0.0.1:{free_port()}"  # no bus at all: not needed for any of this
    old = ServiceRuntime(settings(database_url, nowhere), toy_parts(ToyBoard()), ServiceMetrics(SERVICE))
    new = ServiceRuntime(settings(database_url, nowhere), toy_parts(WiderBoard()), ServiceMetrics(SERVICE))
    await old.start()
    try:
        await asyncio.to_thread(old.application.increment, "before-the-deploy")
        await eventually(old.is_ready, message="old release ready")
        await new.start()
        try:
            await eventually(new.is_ready, message="new release caught up and ready")
            assert await counters(new) == {"before-the-deploy": 1}
            await asyncio.to_thread(new.application.increment, "during-the-deploy")
            expected = {"before-the-deploy": 1, "during-the-deploy": 1}
            for runtime in (old, new):
                await eventually(lambda r=runtime: _counters_are(r, expected),
                                 message="both versions current")
            async with new.pool.acquire() as conn:
                assert await conn.fetchval("SELECT count(note) FROM toy_counters") == 0
        finally:
            await new.stop()
        assert await old.is_ready() and await counters(old) == expected
    finally:
        await old.stop()


async def _counters_are(runtime: ServiceRuntime, expected: dict[str, int]) -> bool:
    return await counters(runtime) == expected
