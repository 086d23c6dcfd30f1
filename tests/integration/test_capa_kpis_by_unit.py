"""CAPA KPIs per organisation unit over real NATS and PostgreSQL, on an injected clock: the
notifier's IncidentStaffed places three stores in two regions; a region's figures include
every store below it, a store's only its own; groups by unit and by region; CSV; a unit
that is blank or too long is refused naming `unit`."""
from __future__ import annotations

import asyncio
import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from closedloop.replay import replay
from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from shared.contracts import IncidentResolved, IncidentStaffed
from tests.harness import API_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_capa_effectiveness import publish

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
NOVEMBER = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
HQ = {"key": "hq", "name": "总部"}
SOUTH, NORTH = {"key": "south", "name": "华南区"}, {"key": "north", "name": "华北区"}


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        effectiveness_poll_seconds=0.2), clock=clock)).start()
    yield service
    service.stop()


def ok(response):
    assert response.status_code < 300, response.text
    return response.json()


def open_case(capa, nats_url, clock, entity: str, path: list[dict[str, str]] | None) -> str:
    """An incident staffed in `path` (none: never staffed) and resolved: its case opens."""
    incident_id, ref = f"inc-{uuid.uuid4()}", f"P1-2026-11-{uuid.uuid4().hex[:3]}"
    if path is not None:
        publish(nats_url, IncidentStaffed(
            incident_id=incident_id, ref=ref, severity="P1", responsible=["li.wei"],
            accountable=["zhao.lei"], unit_path=path, at=clock.now()), "notifier")
    publish(nats_url, IncidentResolved(
        incident_id=incident_id, ref=ref, severity="P1", title="tills frozen", entity=entity,
        by="Li Wei", summary="restarted", at=clock.now()), "incidents")
    api = capa.client(RESPONDER_KEY)
    case = wait_until(lambda: next(iter(api.get("/v1/capa", params={
        "incident_id": incident_id}).json()["items"]), None), message="the case")
    if path:
        wait_until(lambda: api.get(f"/v1/capa/{case['id']}").json()["unit_path"] == path,
                   message="the case's unit path")
    return case["id"]


def plan(capa, capa_id: str, owner: str) -> None:
    api = capa.client(RESPONDER_KEY)
    ok(api.post(f"/v1/capa/{capa_id}/root-cause", json={
        "by": "Zhang Min", "method": "fishbone", "statement": "no restart procedure",
        "category": "method"}))
    ok(api.post(f"/v1/capa/{capa_id}/actions", json={
        "by": "Zhang Min", "kind": "corrective", "title": "write the procedure", "owner": owner,
        "due_date": "2026-11-03", "acceptance_criteria": "procedure published"}))


def on_time(report) -> tuple[int, int]:
    figure = report["on_time_rate"]
    return figure["numerator"], figure["denominator"]


def test_kpis_of_a_region_include_every_store_below_it(capa, nats_url, clock, database_url):
    baoan = open_case(capa, nats_url, clock, "store-042",
                      [HQ, SOUTH, {"key": "sz-baoan", "name": "深圳宝安店"}])
    tianhe = open_case(capa, nats_url, clock, "store-017",
                       [HQ, SOUTH, {"key": "gz-tianhe", "name": "广州天河店"}])
    chaoyang = open_case(capa, nats_url, clock, "store-101",
                         [HQ, NORTH, {"key": "bj-chaoyang", "name": "北京朝阳店"}])
    nowhere = open_case(capa, nats_url, clock, "lab-1", None)
    for capa_id, owner in ((baoan, "sun.li"), (tianhe, "zhou.min"), (chaoyang, "wu.hao"),
                           (nowhere, "tester")):
        plan(capa, capa_id, owner)
    api = capa.client(RESPONDER_KEY)
    # Due 11-03: 宝安 and 朝阳 finish in time, 天河 does not; the lab finishes too.
    for capa_id, owner in ((baoan, "sun.li"), (chaoyang, "wu.hao"), (nowhere, "tester")):
        ok(api.post(f"/v1/capa/{capa_id}/actions/A-1/complete",
                    json={"by": owner, "evidence": "published"}))
    clock.advance(timedelta(days=3))

    viewer = capa.client(VIEWER_KEY)
    whole = wait_until(lambda: (lambda r: r if on_time(r["overall"]) == (3, 4) else None)(
        ok(viewer.get("/v1/capa/kpis", params=NOVEMBER))), message="every action counted")
    assert whole["unit"] is None

    # A region by its key or its name: its two stores, not the north's or the lab's.
    for asked in ("south", "华南区"):
        south = ok(viewer.get("/v1/capa/kpis", params={**NOVEMBER, "unit": asked}))
        assert south["unit"] == asked
        assert on_time(south["overall"]) == (1, 2)
        # Open until verified: both stores' actions, past their due date.
        assert south["overall"]["open_actions"]["value"] == 2
        assert south["overall"]["open_actions_overdue"]["value"] == 2
        assert [o["owner"] for o in south["open_actions_by_owner"]] == ["sun.li", "zhou.min"]
    assert on_time(ok(viewer.get("/v1/capa/kpis", params={
        **NOVEMBER, "unit": "sz-baoan"}))["overall"]) == (1, 1)
    assert on_time(ok(viewer.get("/v1/capa/kpis", params={
        **NOVEMBER, "unit": "总部"}))["overall"]) == (2, 3)
    assert on_time(ok(viewer.get("/v1/capa/kpis", params={
        **NOVEMBER, "unit": "west"}))["overall"]) == (0, 0)

    by_region = ok(viewer.get("/v1/capa/kpis", params={**NOVEMBER, "by": "region"}))
    regions = {g["key"]: (g["name"], on_time(g["kpis"])) for g in by_region["groups"]}
    assert regions == {"south": ("华南区", (1, 2)), "north": ("华北区", (1, 1)),
                       "unassigned": ("unassigned", (1, 1))}
    stores = ok(viewer.get("/v1/capa/kpis", params={**NOVEMBER, "by": "unit", "unit": "south"}))
    assert {g["key"]: (g["name"], on_time(g["kpis"])) for g in stores["groups"]} == {
        "sz-baoan": ("深圳宝安店", (1, 1)), "gz-tianhe": ("广州天河店", (0, 1))}
    assert on_time(stores["overall"]) == (1, 2)

    exported = viewer.get("/v1/capa/kpis", params={
        **NOVEMBER, "by": "unit", "unit": "华南区", "format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    cells = {(r["group"], r["kpi"]): r["value"] for r in csv.DictReader(io.StringIO(exported.text))}
    assert cells[("all", "on_time_rate")] == "0.5"
    assert cells[("gz-tianhe", "on_time_rate")] == "0.0"
    assert ("bj-chaoyang", "on_time_rate") not in cells

    review = ok(viewer.get("/v1/capa/kpis/review", params={**NOVEMBER, "unit": "north"}))
    assert review["headline"]["on_time_rate"]["value"] == 1.0
    assert review["markdown"].startswith("# CAPA management review 2026-11-01 – 2026-12-01 — north")

    # The units are rebuilt from the log exactly (closedloop replay capa).
    capa.stop()
    assert asyncio.run(replay("capa", database_url)) == 0


def test_a_blank_or_overlong_unit_is_refused_naming_unit(capa):
    viewer = capa.client(VIEWER_KEY)
    for path in ("/v1/capa/kpis", "/v1/capa/kpis/review"):
        for bad in (" ", "x" * 201):
            refused = viewer.get(path, params={"unit": bad})
            assert refused.status_code == 422, refused.text
            assert "unit" in refused.text
    refused = viewer.get("/v1/capa/kpis", params={"by": "district"})
    assert refused.status_code == 422 and "by" in refused.text
