"""A rule's worse band re-grades its incident, over real HTTP, NATS and PostgreSQL with the
detector and the incidents service running: 深圳宝安店's queue wait crosses the P2 band and
opens a P2 incident; later it crosses the P0 band while the alert still fires, so the alert
goes up to P0 (the same alert, not a second one) and the incident with it, with P0's
deadlines from then; a better band afterwards lowers neither."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.detector.domain import Alert, alert_id_for, rule_fingerprint
from tests.harness import ADMIN_KEY, RunningService, service_app, wait_until
from tests.integration.test_detector_rules import T0, declare, define

pytestmark = pytest.mark.integration
METRIC, STORE = "store.wait_minutes", "sz-baoan"
HOUR = 3600.0


@pytest.fixture
def stack(database_url, nats_url):
    common = dict(database_url=database_url, nats_url=nats_url)
    detector = RunningService(service_app("detector", tick_seconds=0.2, **common)).start()
    incidents = RunningService(service_app("incidents", **common)).start()
    yield detector, incidents
    incidents.stop()
    detector.stop()


def sample(client, hour: int, value: float) -> dict:
    r = client.post("/v1/samples", json={"series": [{
        "metric": METRIC, "entity": STORE, "labels": {}, "ts": [T0 + hour * HOUR],
        "values": [value]}]})
    assert r.status_code == 200, r.text
    return r.json()


def the_incident(incidents: RunningService, fingerprint: str) -> dict | None:
    with incidents.client(ADMIN_KEY) as api:
        items = api.get("/v1/incidents", params={"limit": 100}).json()["items"]
        found = [i for i in items if i["fingerprint"] == fingerprint]
        return api.get(f"/v1/incidents/{found[0]['ref']}").json() if found else None


def test_a_worse_band_while_firing_raises_the_alert_and_its_incident(stack):
    detector, incidents = stack
    with detector.client(ADMIN_KEY) as client:
        declare(client, METRIC, interval="1h")
        rule = define(client, name="queue-wait", metric=METRIC, bands=[
            {"level": "P0", "when": {"value": {}, "above": 40}},
            {"level": "P2", "when": {"value": {}, "between": [20, 40]}}])
        fingerprint = rule_fingerprint(rule["id"], STORE)

        assert sample(client, 0, 25)["raised"] == 1
        opened = wait_until(lambda: the_incident(incidents, fingerprint), 20, "the P2 incident")
        assert opened["severity"] == "P2"

        assert sample(client, 1, 50)["raised"] == 0  # the same alert, not a second one
        raised = wait_until(lambda: (i := the_incident(incidents, fingerprint))
                            and i["severity"] == "P0" and i, 20, "the incident raised to P0")
        assert raised["ref"] == opened["ref"] and len(raised["alert_ids"]) == 1
        change = next(e for e in raised["timeline"] if e["action"] == "severity changed")
        assert f"alert:{fingerprint} fired at P0" in change["detail"]
        # P0's respond deadline (5 min on the shipped defaults) from the raise, not later
        # than P2's from the opening.
        respond_by = datetime.fromisoformat(raised["respond_by"])
        assert respond_by < datetime.fromisoformat(opened["respond_by"])
        assert respond_by - datetime.fromisoformat(opened["opened_at"]) < timedelta(hours=1)

        # Back in the P2 band: neither the alert nor the incident goes down.
        sample(client, 2, 30)
        alerts = wait_until(lambda: (a := client.get("/v1/alerts", params={"status": "all"})
                                     .json()) and a[0]["severity"] == "P0" and a, 20,
                            "the alert board showing P0")
        assert [(a["entity"], a["severity"], a["status"]) for a in alerts] == [
            (STORE, "P0", "firing")]
    stored = detector.runtime.application.stored_events(alert_id_for(fingerprint))
    assert [type(e).__name__ for e in stored].count("SeverityRaised") == 1
    assert sum(isinstance(e, Alert.Raised) for e in stored) == 1
    assert the_incident(incidents, fingerprint)["severity"] == "P0"
