"""举一反三 over real NATS and PostgreSQL: the detector's alerts raised on three stores of one
region (and one elsewhere), a case for one of them, its root cause recorded → the two peer
stores are listed at risk with why → one step plans a preventive action for each, and the loop
hears which store each protects."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.clock import ManualClock
from shared.contracts import AlertRaised, IncidentOpened, IncidentResolved
from tests.harness import API_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_capa_effectiveness import T0, _last, publish
from tests.integration.test_capa_service import case_of, run

pytestmark = pytest.mark.integration


@pytest.fixture
def capa(database_url, nats_url, clock):
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        peer_labels="region,format", peer_lookback_days=30), clock=clock)).start()
    yield service
    service.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


def test_peers_at_risk_are_listed_and_their_actions_planned_in_one_step(capa, nats_url, clock):
    run_id = uuid.uuid4().hex[:8]
    rule, region = f"queue-wait-{run_id}", f"east-{run_id}"
    stores = {f"store-{n}-{run_id}": {"region": region, "format": "hypermarket"}
              for n in ("042", "017", "233")}
    stores[f"store-900-{run_id}"] = {"region": f"west-{run_id}", "format": "convenience"}
    for minutes, (store, labels) in enumerate(stores.items()):
        publish(nats_url, AlertRaised(
            alert_id=f"al-{store}", fingerprint=f"{rule}:{store}", source="rule", rule_id=rule,
            name="Checkout queue wait", metric="queue_wait_minutes", entity=store,
            labels={"entity": store, **labels}, severity="P2", value=9.5, threshold=6.0,
            started_at=T0 + timedelta(minutes=minutes)), "detector")
    case_store, peer_a, peer_b, elsewhere = stores
    incident_id = f"inc-{uuid.uuid4()}"
    publish(nats_url, IncidentResolved(
        incident_id=incident_id, ref=f"P2-{run_id}", severity="P2", title="Checkout queue wait",
        entity=case_store, by="Li Wei", summary="tills reopened", at=T0,
        fingerprint=f"{rule}:{case_store}"), "incidents")
    api, viewer = capa.client(RESPONDER_KEY), capa.client(VIEWER_KEY)
    capa_id = wait_until(lambda: case_of(api, incident_id), message="the case")["id"]

    before = viewer.get(f"/v1/capa/{capa_id}/at-risk")
    assert before.status_code == 409 and "record it first" in before.text
    api.post(f"/v1/capa/{capa_id}/root-cause", json={
        "by": "Zhang Min", "method": "fishbone", "category": "method",
        "statement": "the weekend rota ignores the footfall forecast"}).raise_for_status()

    listed = wait_until(lambda: (lambda r: r if len(r["items"]) == 2 else None)(
        viewer.get(f"/v1/capa/{capa_id}/at-risk").json()), message="two peers at risk")
    assert listed["rule"] == rule and listed["category"] == "method"
    assert listed["class_labels"] == {"region": region, "format": "hypermarket"}
    assert [i["entity"] for i in listed["items"]] == [peer_b, peer_a]  # latest first
    assert listed["items"][0]["reasons"] == [
        f"shares region={region}, format=hypermarket with {case_store}",
        f"rule Checkout queue wait fired here at {T0 + timedelta(minutes=2):%Y-%m-%d %H:%M} UTC"]
    assert elsewhere not in {i["entity"] for i in listed["items"]}

    spread = api.post(f"/v1/capa/{capa_id}/spread", json={
        "by": "Zhang Min", "owner": "Wang Fang", "owners": {peer_a: "Chen Jie"},
        "verifier": "Zhang Min", "due_date": (T0 + timedelta(days=14)).date().isoformat()})
    assert spread.status_code == 201, spread.text
    planned = spread.json()["planned"]
    assert [(a["entity"], a["owner"], a["assigned_verifier"], a["kind"]) for a in planned] == [
        (peer_b, "Wang Fang", "Zhang Min", "preventive"),
        (peer_a, "Chen Jie", "Zhang Min", "preventive")]
    assert planned[0]["title"] == (f"举一反三 P2-{run_id}: check {peer_b} for "
                                   "“the weekend rota ignores the footfall forecast”")

    case = api.get(f"/v1/capa/{capa_id}").json()
    assert [a["entity"] for a in case["actions"]] == [peer_b, peer_a]
    after = viewer.get(f"/v1/capa/{capa_id}/at-risk").json()
    assert [i["action_id"] for i in after["items"]] == ["A-1", "A-2"]
    again = api.post(f"/v1/capa/{capa_id}/spread", json={
        "by": "Zhang Min", "owner": "Wang Fang", "verifier": "Zhang Min",
        "due_date": (T0 + timedelta(days=14)).date().isoformat()}).json()
    assert again["planned"] == [] and len(again["skipped"]) == 2

    # The loop hears which store the last action protects, and who is to verify it.
    def heard() -> dict | None:
        msg = run(lambda js: _last(nats_url, "closedloop.capa.action.added.v1"), nats_url)
        data = json.loads(msg.data)["data"] if msg else None
        return data if data and data["capa_id"] == capa_id and data["action_id"] == "A-2" \
            else None
    added = wait_until(heard, message="CapaActionAdded of A-2")
    assert (added["entity"], added["verifier"]) == (peer_a, "Zhang Min")


def test_a_peer_whose_case_found_the_same_category_is_at_risk(capa, nats_url, clock):
    """No alert in common: the peer's own case found a root cause of the same kind; its labels
    come from its incident's opening."""
    run_id = uuid.uuid4().hex[:8]
    region = f"north-{run_id}"
    api, viewer = capa.client(RESPONDER_KEY), capa.client(VIEWER_KEY)
    cases = {}
    for store, category in ((f"store-1-{run_id}", "machine"), (f"store-2-{run_id}", "machine"),
                            (f"store-3-{run_id}", "material")):
        incident_id = f"inc-{uuid.uuid4()}"
        publish(nats_url, IncidentOpened(
            incident_id=incident_id, ref=f"P3-{store}", fingerprint=f"fp-{store}",
            severity="P3", title="Freezer warm", entity=store, alert_id=f"al-{store}",
            opened_at=T0, respond_by=T0 + timedelta(hours=1), resolve_by=T0 + timedelta(hours=8),
            labels={"alertname": f"freezer-{store}", "region": region}), "incidents")
        publish(nats_url, IncidentResolved(
            incident_id=incident_id, ref=f"P3-{store}", severity="P3", title="Freezer warm",
            entity=store, by="Li Wei", summary="compressor reset", at=T0), "incidents")
        capa_id = wait_until(lambda: case_of(api, incident_id), message="the case")["id"]
        api.post(f"/v1/capa/{capa_id}/root-cause", json={
            "by": "Zhang Min", "method": "fishbone", "category": category,
            "statement": "compressor past its service interval"}).raise_for_status()
        cases[store] = capa_id

    first, second, _ = cases
    listed = wait_until(lambda: (lambda r: r if r["items"] else None)(
        viewer.get(f"/v1/capa/{cases[first]}/at-risk").json()), message="a peer at risk")
    assert [(i["entity"], i["reasons"]) for i in listed["items"]] == [(second, [
        f"shares region={region} with {first}",
        f"P3-{second} found a root cause of the same category (machine) here on "
        f"{T0:%Y-%m-%d}"])]
