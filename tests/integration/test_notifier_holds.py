"""Who is told when an incident opens, over the running services (real NATS and
PostgreSQL, time on a ManualClock): routes choose policies from the incident's labels;
silences, maintenance windows and inhibitions hold its pages, recorded and published, and
release them when they end while it is still open; a rule in trial mode opens incidents that
nobody hears about, and their timeline says why."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from services.detector.main import create_app as detector_app
from services.detector.settings import DetectorSettings
from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from shared.contracts import (
    IncidentAcknowledged, IncidentResolved, NotificationsHeld, NotificationsReleased,
)
from tests.harness import API_KEYS, MANAGER_KEY, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, escalation, incident_opened, notifier, publish, published, receiver,
    setup_routing,
)

pytestmark = pytest.mark.integration

STORE = {"store": "sz-baoan", "alertname": "CheckoutSlow"}


def opened(clock, severity: str = "P0", **labels: str):
    incident = incident_opened(clock, severity)
    return incident.model_copy(update={"labels": {**STORE, **labels, "severity": severity,
                                                  "entity": incident.entity}})


def told(receiver, path: str, incident_id: str) -> list[str]:
    return [json.loads(r["body"])["reason"] for r in receiver.received(path, incident_id)]


def opening(service, incident_id: str) -> dict | None:
    with service.client(VIEWER_KEY) as client:
        found = client.get(f"/v1/openings/{incident_id}")
    return found.json() if found.status_code == 200 else None


def opening_is(service, incident_id: str, status: str) -> dict:
    return wait_until(lambda: (o := opening(service, incident_id)) and o["status"] == status
                      and o, WAIT, f"incident {incident_id}'s opening to be {status}")


def resolve(nats_url: str, clock, incident) -> None:
    publish(nats_url, IncidentResolved(
        incident_id=incident.incident_id, ref=incident.ref, severity=incident.severity,
        title=incident.title, entity=incident.entity, by="li.na", at=clock.now()))


def the_release_worker_has_passed(service, nats_url, clock, receiver) -> None:
    """A silence ending now releases a sentinel incident: once it is told, the worker has
    looked at every hold due before it."""
    with service.client(MANAGER_KEY) as client:
        created = client.post("/v1/silences", json={
            "matchers": ['sentinel="yes"'], "ends_at": (clock.now() + timedelta(seconds=1))
            .isoformat(), "comment": "sentinel"})
    assert created.status_code == 201, created.text
    sentinel = opened(clock, sentinel="yes", store="sentinel")
    publish(nats_url, sentinel)
    opening_is(service, sentinel.incident_id, "held")
    clock.advance(1)
    wait_until(lambda: told(receiver, "/oncall", sentinel.incident_id), WAIT, "the sentinel")


def test_a_silence_holds_a_p0s_pages_and_releases_them_when_it_ends(notifier, nats_url, clock,
                                                                     receiver):
    setup_routing(notifier, receiver, escalate_after=600)
    with notifier.client(MANAGER_KEY) as client:
        silence = client.post("/v1/silences", headers={"X-Actor": "li.na"}, json={
            "matchers": ['store=~"sz-.*"'], "ends_at": (clock.now() + timedelta(minutes=30))
            .isoformat(), "comment": "store refit"})
    assert silence.status_code == 201, silence.text
    kept, resolved = opened(clock), opened(clock)
    publish(nats_url, kept)
    publish(nats_url, resolved)
    held = opening_is(notifier, kept.incident_id, "held")
    assert held["hold"]["kind"] == "silence" and held["hold"]["id"] == silence.json()["id"]
    [fact] = wait_until(lambda: published(nats_url, NotificationsHeld, kept.incident_id), WAIT,
                        "NotificationsHeld on the NOTIFIER stream")
    assert fact.data["name"] == "store refit" and fact.data["kind"] == "silence"
    opening_is(notifier, resolved.incident_id, "held")
    resolve(nats_url, clock, resolved)
    opening_is(notifier, resolved.incident_id, "dropped")

    clock.advance(timedelta(minutes=29))  # the silence still holds
    the_release_worker_has_passed(notifier, nats_url, clock, receiver)
    assert told(receiver, "/oncall", kept.incident_id) == []
    clock.advance(timedelta(minutes=1))
    wait_until(lambda: told(receiver, "/oncall", kept.incident_id) == ["incident.opened"], WAIT,
               "step 0 told when the silence ends")
    [released] = wait_until(lambda: published(nats_url, NotificationsReleased,
                                              kept.incident_id), WAIT, "NotificationsReleased")
    assert released.data["policies"] == ["critical"]
    # The ladder counts from the release: its step 1 is due ten minutes after it.
    timer = wait_until(lambda: escalation(notifier, kept.incident_id), WAIT, "the timer")
    assert timer["due_at"].startswith((clock.now() + timedelta(minutes=10)).isoformat()[:16])

    the_release_worker_has_passed(notifier, nats_url, clock, receiver)
    assert told(receiver, "/oncall", resolved.incident_id) == []  # resolved meanwhile
    assert opening(notifier, resolved.incident_id)["status"] == "dropped"


def test_a_maintenance_window_holds_pages_until_it_closes(notifier, nats_url, clock, receiver):
    setup_routing(notifier, receiver, escalate_after=600)
    began = clock.now() - timedelta(minutes=15)
    with notifier.client(MANAGER_KEY) as client:
        window = client.post("/v1/maintenance-windows", json={
            "name": "pos-update", "matchers": ['store=~"sz-.*"'], "time_zone": "UTC",
            "days": [began.strftime("%a").lower()], "start": began.strftime("%H:%M"),
            "duration_minutes": 45, "comment": "POS updates"})
    assert window.status_code == 201, window.text
    incident = opened(clock)
    publish(nats_url, incident)
    held = opening_is(notifier, incident.incident_id, "held")
    assert (held["hold"]["kind"], held["hold"]["name"]) == ("maintenance", "pos-update")
    acknowledged = opened(clock)  # taken on by someone while held: never paged
    publish(nats_url, acknowledged)
    opening_is(notifier, acknowledged.incident_id, "held")
    publish(nats_url, IncidentAcknowledged(incident_id=acknowledged.incident_id,
                                           ref=acknowledged.ref, by="li.na", at=clock.now()))
    wait_until(lambda: (escalation(notifier, acknowledged.incident_id) is None), WAIT, "ack")

    clock.advance(timedelta(minutes=30))
    wait_until(lambda: told(receiver, "/oncall", incident.incident_id) == ["incident.opened"],
               WAIT, "step 0 told when the window closes")
    opening_is(notifier, acknowledged.incident_id, "dropped")
    assert told(receiver, "/oncall", acknowledged.incident_id) == []


def test_an_inhibition_holds_a_stores_alerts_while_the_store_is_down(notifier, nats_url, clock,
                                                                      receiver):
    setup_routing(notifier, receiver, severities=("P1", "P2"), escalate_after=600)
    with notifier.client(MANAGER_KEY) as client:
        rule = client.post("/v1/inhibition-rules", json={
            "name": "store-down", "source_matchers": ["alertname=StoreOffline"],
            "target_matchers": ['severity=~"P2|P3"'], "equal": ["store"]})
    assert rule.status_code == 201, rule.text
    down = opened(clock, "P1", alertname="StoreOffline")
    publish(nats_url, down)
    wait_until(lambda: told(receiver, "/oncall", down.incident_id), WAIT, "the store down page")
    opening_is(notifier, down.incident_id, "told")

    slow, elsewhere = opened(clock, "P2"), opened(clock, "P2", store="bj-chaoyang")
    publish(nats_url, slow)
    publish(nats_url, elsewhere)
    held = opening_is(notifier, slow.incident_id, "held")
    assert held["hold"]["kind"] == "inhibition" and held["hold"]["source_ref"] == down.ref
    wait_until(lambda: told(receiver, "/oncall", elsewhere.incident_id), WAIT,
               "another store's alert is told")
    assert told(receiver, "/oncall", slow.incident_id) == []

    resolve(nats_url, clock, down)  # the store is back: what it held is told now
    wait_until(lambda: told(receiver, "/oncall", slow.incident_id) == ["incident.opened"], WAIT,
               "the held alert told when its source resolves")
    [released] = wait_until(lambda: published(nats_url, NotificationsReleased,
                                              slow.incident_id), WAIT, "NotificationsReleased")
    assert released.data["kind"] == "inhibition"


def test_a_route_tree_sends_shenzhen_stores_to_their_own_policy(notifier, nats_url, clock,
                                                                receiver):
    routing = setup_routing(notifier, receiver, escalate_after=600)
    with notifier.client(MANAGER_KEY) as client:
        stores = client.post("/v1/policies", json={
            "name": "sz-stores", "severities": ["P3"], "notify": [routing["managers"]["id"]],
            "escalate_after_seconds": 600})
        assert stores.status_code == 201, stores.text
        tree = client.put("/v1/routes", json={"routes": [
            {"matchers": ['store=~"sz-.*"'], "receiver": "sz-stores"}]})
        assert tree.status_code == 200, tree.text
    shenzhen, beijing = opened(clock), opened(clock, store="bj-chaoyang")
    publish(nats_url, shenzhen)
    publish(nats_url, beijing)
    wait_until(lambda: told(receiver, "/managers", shenzhen.incident_id), WAIT, "sz-stores")
    wait_until(lambda: told(receiver, "/oncall", beijing.incident_id), WAIT, "critical")
    assert told(receiver, "/oncall", shenzhen.incident_id) == []
    [route] = opening(notifier, shenzhen.incident_id)["routes"]
    assert (route["route"], route["policies"]) == ("root.routes[0]", ["sz-stores"])


# -- trial mode, from the rule to the incident's timeline --------------------------------------

DAY = 86400.0


@pytest.fixture
def stack(database_url, nats_url, clock):
    common = dict(database_url=database_url, nats_url=nats_url, api_keys=API_KEYS)
    from services.notifier.main import create_app as notifier_app
    from services.notifier.settings import NotifierSettings
    from tests.harness import NOTIFIER_SAFETY
    services = {
        "detector": RunningService(detector_app(DetectorSettings(**common, tick_seconds=0.2))),
        "incidents": RunningService(incidents_app(IncidentsSettings(**common), clock=clock)),
        "notifier": RunningService(notifier_app(NotifierSettings(**common, **NOTIFIER_SAFETY),
                                                clock=clock)),
    }
    for service in services.values():
        service.start()
    yield services
    for service in services.values():
        service.stop()


def test_a_trial_rules_alert_opens_an_incident_nobody_is_told_about(stack, receiver):
    detector, incidents, notifier = stack["detector"], stack["incidents"], stack["notifier"]
    setup_routing(notifier, receiver, severities=("P1",), escalate_after=600)
    day0 = (time.time() // DAY - 2) * DAY
    with detector.client() as client:
        assert client.put("/v1/metrics/catalogue", json=[
            {"name": "store.nps", "interval": "1d"}]).status_code == 200
        rule = client.post("/v1/rules", json={
            "name": "nps-trial", "metric": "store.nps", "severity": "P1", "trial": True,
            "when": {"value": {}, "below": 50}})
        assert rule.status_code == 201 and rule.json()["definition"]["trial"] is True, rule.text
        sample = client.post("/v1/samples", json={"series": [{
            "metric": "store.nps", "entity": "store-042", "labels": {"store": "sz-baoan"},
            "ts": [day0], "values": [42.0]}]})
        assert sample.json()["raised"] == 1, sample.text

    def incident_held() -> dict | None:
        with incidents.client(VIEWER_KEY) as client:
            items = client.get("/v1/incidents").json()["items"]
            if not items:
                return None
            found = client.get(f"/v1/incidents/{items[0]['id']}").json()
        actions = [e["action"] for e in found["timeline"]]
        return found if "notifications held" in actions else None

    incident = wait_until(incident_held, WAIT, "the incident's timeline to say it is held")
    [held] = [e for e in incident["timeline"] if e["action"] == "notifications held"]
    assert "trial mode (内部试运行)" in held["detail"] and "nobody is notified" in held["detail"]
    assert opening(notifier, incident["id"])["status"] == "trial"
    assert receiver.requests == []  # nothing delivered, on any channel
    assert not any(e["action"].startswith("notification delivered") for e in incident["timeline"])
