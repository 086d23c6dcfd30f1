"""举一反三 from near misses, over real HTTP, NATS and PostgreSQL on an injected clock: the
detector's NPS rule fires on store-042 and nearly fires (within 10 % of its threshold) on two
stores of the same region and one elsewhere; each entry into the band is published once as
RuleNearMiss, also across a restart; the case of store-042 lists the two peers with the
reason in words and plans a preventive action for each in one step."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from services.capa.main import create_app as capa_app
from services.capa.settings import CapaSettings
from services.detector.domain import rule_fingerprint
from services.detector.main import create_app as detector_app
from services.detector.settings import DetectorSettings
from shared.clock import ManualClock
from shared.contracts import IncidentResolved, RuleNearMiss
from tests.harness import API_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_capa_effectiveness import publish
from tests.integration.test_capa_silent_metric import published

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock():
    return ManualClock(T0)


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(capa_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        peer_labels="region,format", peer_lookback_days=30), clock=clock)).start()
    yield service
    service.stop()


def start_detector(database_url: str, nats_url: str, clock: ManualClock) -> RunningService:
    return RunningService(detector_app(DetectorSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, tick_seconds=0.2),
        clock=clock)).start()


def ok(response: Any) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def test_peers_where_the_rule_nearly_fired_are_at_risk_and_get_their_actions(
        capa, database_url, nats_url, clock):
    run = uuid.uuid4().hex[:6]
    metric, region = f"store.nps.{run}", f"south-{run}"
    case_store, peer_a, peer_b, elsewhere, calm = (f"store-{n}-{run}" for n in (
        "042", "017", "233", "900", "555"))
    labels = {entity: {"region": region, "format": "mall"}
              for entity in (case_store, peer_a, peer_b, calm)}
    labels[elsewhere] = {"region": f"west-{run}", "format": "outlet"}
    detector = start_detector(database_url, nats_url, clock)
    running = [detector]

    def send(entity: str, value: float, at: datetime) -> None:
        body = {"samples": [{"metric": metric, "entity": entity, "ts": at.timestamp(),
                             "value": value, "labels": labels[entity]}]}
        # A detector that just started takes samples once it holds the evaluator's lease
        # (503 until then, nothing stored).
        ok(wait_until(lambda: (lambda r: r if r.status_code != 503 else None)(
            running[-1].client().post("/v1/samples", json=body)), message="the evaluator"))

    try:
        client = detector.client()
        ok(client.put("/v1/metrics/catalogue", json=[{"name": metric, "interval": "1d"}]))
        rule = ok(client.post("/v1/rules", json={
            "name": f"NPS collapse {run}", "metric": metric, "severity": "P0",
            "when": {"value": {}, "below": 30}}))  # near_miss unset: within 10 %, 30 to 33
        # Day 0: everyone fine. Day 1: store-042 falls below 30; two peers come within the
        # band, one store elsewhere too; another stays well clear.
        for entity in labels:
            send(entity, 60, T0 - DAY)
        for entity, value in ((case_store, 25), (peer_a, 31), (peer_b, 32.5), (elsewhere, 31),
                              (calm, 45)):
            send(entity, value, T0)
        # peer_a wobbles inside the band (one near miss), leaves it, and comes back (a second).
        for value in (33, 40, 31):
            clock.advance(DAY)
            send(peer_a, value, clock.now())
        fingerprint = rule_fingerprint(rule["id"], peer_a)
        twice = {RuleNearMiss.type_name(): 2}
        wait_until(lambda: asyncio.run(published(
            nats_url, "DETECTOR", (RuleNearMiss,), "fingerprint", fingerprint)) == twice,
                   message="two entries of store-017 into the band")
        # A restarted detector rebuilds store-017 inside the band and publishes nothing again.
        detector.stop()
        running.append(start_detector(database_url, nats_url, clock))
        clock.advance(DAY)
        send(peer_a, 32, clock.now())
        assert asyncio.run(published(nats_url, "DETECTOR", (RuleNearMiss,), "fingerprint",
                                     fingerprint)) == twice
        calm_fp = rule_fingerprint(rule["id"], calm)
        assert asyncio.run(published(nats_url, "DETECTOR", (RuleNearMiss,), "fingerprint",
                                     calm_fp)) == {}
        alert = wait_until(lambda: next((a for a in running[-1].client().get(
            "/v1/alerts").json() if a["entity"] == case_store), None), message="the alert")
    finally:
        running[-1].stop()

    # The case of store-042 (its incident resolved), its root cause recorded.
    clock.advance(DAY)
    incident_id = f"inc-{uuid.uuid4()}"
    publish(nats_url, IncidentResolved(
        incident_id=incident_id, ref=f"P0-2026-12-{run[:3]}", severity="P0",
        title="NPS collapse", entity=case_store, by="Li Wei", summary="apology calls",
        at=clock.now(), fingerprint=alert["fingerprint"]), "incidents")
    api, viewer = capa.client(RESPONDER_KEY), capa.client(VIEWER_KEY)
    capa_id = wait_until(lambda: next(iter(api.get("/v1/capa", params={
        "incident_id": incident_id}).json()["items"]), None), message="the case")["id"]
    ok(api.post(f"/v1/capa/{capa_id}/root-cause", json={
        "by": "Zhang Min", "method": "fishbone", "category": "man",
        "statement": "new staff were not trained on the returns desk"}))

    listed = wait_until(lambda: (lambda r: r if len(r["items"]) == 2 else None)(
        ok(viewer.get(f"/v1/capa/{capa_id}/at-risk"))), message="two peers at risk")
    items = {i["entity"]: i for i in listed["items"]}
    assert set(items) == {peer_a, peer_b}  # not the store elsewhere, not the calm one
    assert items[peer_b]["reasons"] == [
        f"shares region={region}, format=mall with {case_store}",
        f"nearly fired: {metric} 32.5 vs threshold 30 on 2026-12-01"]
    assert items[peer_a]["reasons"][1:] == [
        f"nearly fired: {metric} 31 vs threshold 30 on 2026-12-01",
        f"nearly fired: {metric} 31 vs threshold 30 on 2026-12-04"]
    assert listed["items"][0]["entity"] == peer_a  # seen latest

    spread = api.post(f"/v1/capa/{capa_id}/spread", json={
        "by": "Zhang Min", "owners": {peer_a: "Chen Jie", peer_b: "Wang Fang"},
        "verifier": "Zhang Min", "due_date": (clock.now() + 14 * DAY).date().isoformat(),
        "title": "train the returns desk at {entity}"})
    assert spread.status_code == 201, spread.text
    planned = {a["entity"]: (a["owner"], a["kind"], a["title"]) for a in spread.json()["planned"]}
    assert planned == {peer_a: ("Chen Jie", "preventive", f"train the returns desk at {peer_a}"),
                       peer_b: ("Wang Fang", "preventive", f"train the returns desk at {peer_b}")}
