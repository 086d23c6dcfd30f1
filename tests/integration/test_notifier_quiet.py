"""The routing tree and the quiet rules over the running notifier (real NATS and
PostgreSQL): managers change them, viewers read them, bad input is refused naming the field,
and silences list by state on the notifier's clock."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.notifier.main import create_app
from services.notifier.settings import NotifierSettings
from shared.clock import ManualClock
from tests.harness import (
    API_KEYS, MANAGER_KEY, NOTIFIER_SAFETY, VIEWER_KEY, RunningService, wait_until,
)

pytestmark = pytest.mark.integration

WAIT = 20.0


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def notifier(database_url, nats_url, clock):
    service = RunningService(create_app(NotifierSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, **NOTIFIER_SAFETY),
        clock=clock)).start()
    yield service
    service.stop()


def define_policies(service: RunningService) -> None:
    with service.client(MANAGER_KEY) as client:
        channel = client.post("/v1/channels", json={
            "name": "oncall", "url": "https://hooks.example.com/oncall",
            "secret": "oncall-secret-0123456789"})
        assert channel.status_code == 201, channel.text
        for name, severities in (("critical", ["P0", "P1"]), ("stores", ["P2"])):
            policy = client.post("/v1/policies", json={
                "name": name, "severities": severities, "notify": [channel.json()["id"]],
                "escalate_after_seconds": 900})
            assert policy.status_code == 201, policy.text


def test_the_routing_tree_is_replaced_whole_and_explains_where_an_alert_goes(notifier):
    define_policies(notifier)
    with notifier.client(VIEWER_KEY) as viewer, notifier.client(MANAGER_KEY) as manager:
        assert viewer.get("/v1/routes").json()["default"] is True
        tested = viewer.post("/v1/routes/test", json={"labels": {"severity": "P1"}})
        assert tested.json()["policies"] == ["critical"]

        tree = {"routes": [{"matchers": ['store=~"深圳.*"'], "receiver": "stores",
                            "continue": True},
                           {"matchers": ["store!="], "receiver": "critical"}]}
        assert viewer.put("/v1/routes", json=tree).status_code == 403
        put = manager.put("/v1/routes", json=tree)
        assert put.status_code == 200, put.text
        assert put.json()["tree"]["routes"][1]["matchers"] == ['store!=""']

        tested = viewer.post("/v1/routes/test", json={"labels": {"store": "深圳宝安店"}}).json()
        assert tested["policies"] == ["stores", "critical"]
        assert [m["route"] for m in tested["matched"]] == ["root.routes[0]", "root.routes[1]"]

        unknown = manager.put("/v1/routes", json={"routes": [{"receiver": "ghosts"}]})
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "root.routes[0].receiver"
        bad = manager.put("/v1/routes", json={"routes": [{"matchers": ['a=~"(?=b)"']}]})
        assert bad.status_code == 422 and "lookarounds" in bad.text
        assert viewer.get("/v1/routes").json()["tree"]["routes"][0]["receiver"] == "stores"


def test_silences_are_created_listed_by_state_and_expired(notifier, clock):
    now = clock.now()
    with notifier.client(VIEWER_KEY) as viewer, notifier.client(MANAGER_KEY) as manager:
        active = manager.post("/v1/silences", headers={"X-Actor": "li.na"}, json={
            "matchers": ['store="深圳宝安店"'], "ends_at": (now + timedelta(hours=1)).isoformat(),
            "comment": "store refit"})
        assert active.status_code == 201, active.text
        assert active.json()["state"] == "active"
        pending = manager.post("/v1/silences", json={
            "matchers": ["{team=db, env=~\"prod|staging\"}"],
            "starts_at": (now + timedelta(hours=2)).isoformat(),
            "ends_at": (now + timedelta(hours=3)).isoformat(), "comment": "db upgrade"})
        assert pending.status_code == 201, pending.text
        assert pending.json()["matchers"] == ['team="db"', 'env=~"prod|staging"']

        def ids(state: str) -> set[str]:
            page = viewer.get("/v1/silences", params={"state": state}).json()
            return {item["id"] for item in page["items"]}

        wait_until(lambda: ids("active") == {active.json()["id"]}, WAIT, "the active silence")
        wait_until(lambda: ids("pending") == {pending.json()["id"]}, WAIT, "the pending silence")

        assert manager.delete(f"/v1/silences/{active.json()['id']}").json()["state"] == "expired"
        assert manager.delete(f"/v1/silences/{active.json()['id']}").status_code == 409
        wait_until(lambda: ids("expired") == {active.json()["id"]}, WAIT, "the expired silence")

        clock.advance(timedelta(hours=2, minutes=30))
        assert ids("active") == {pending.json()["id"]}
        assert viewer.get(f"/v1/silences/{pending.json()['id']}").json()["state"] == "active"

        refused = manager.post("/v1/silences", json={
            "matchers": ['store=~".*"'], "ends_at": (now + timedelta(days=1)).isoformat(),
            "comment": "everything"})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "matchers"
        assert viewer.post("/v1/silences", json={}).status_code == 403


def test_maintenance_windows_and_inhibition_rules_have_crud(notifier):
    window = {"name": "nightly", "matchers": ['store=~"深圳.*"'], "time_zone": "Asia/Shanghai",
              "days": ["mon", "tue"], "start": "02:00", "duration_minutes": 120}
    with notifier.client(VIEWER_KEY) as viewer, notifier.client(MANAGER_KEY) as manager:
        created = manager.post("/v1/maintenance-windows", json=window)
        assert created.status_code == 201, created.text
        window_id = created.json()["id"]
        assert manager.post("/v1/maintenance-windows", json=window).status_code == 409
        bad = manager.post("/v1/maintenance-windows", json={**window, "name": "x",
                                                            "time_zone": "Mars/Olympus"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "time_zone"
        revised = manager.put(f"/v1/maintenance-windows/{window_id}",
                              json={**{k: v for k, v in window.items() if k != "name"},
                                    "start": "03:00"})
        assert revised.status_code == 200 and revised.json()["start"] == "03:00"
        wait_until(lambda: [w["start"] for w in
                            viewer.get("/v1/maintenance-windows").json()["items"]] == ["03:00"],
                   WAIT, "the revised window in the list")

        rule = manager.post("/v1/inhibition-rules", json={
            "name": "store-down", "source_matchers": ["alertname=StoreOffline"],
            "target_matchers": ['severity=~"P2|P3"'], "equal": ["store"]})
        assert rule.status_code == 201, rule.text
        assert viewer.get(f"/v1/inhibition-rules/{rule.json()['id']}").json()["equal"] == ["store"]
        bad = manager.post("/v1/inhibition-rules", json={
            "name": "bad", "source_matchers": ["a=b"], "target_matchers": ["c=d"],
            "equal": ["not a label"]})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "equal[0]"

        assert manager.delete(f"/v1/maintenance-windows/{window_id}").status_code == 204
        assert viewer.get(f"/v1/maintenance-windows/{window_id}").status_code == 404
        wait_until(lambda: viewer.get("/v1/maintenance-windows").json()["items"] == [], WAIT,
                   "the deleted window gone from the list")
        assert len(viewer.get("/v1/inhibition-rules").json()["items"]) == 1
