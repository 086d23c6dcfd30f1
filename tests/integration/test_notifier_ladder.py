"""Escalation ladders against real NATS and PostgreSQL: each step tells its targets, waits its
delay, and the next step follows until someone acknowledges; the ladder repeats when asked
to; an open incident keeps the ladder it started with. Time is a ManualClock."""
from __future__ import annotations

import json

import pytest

from shared.contracts import EscalationTriggered, IncidentAcknowledged
from tests.harness import VIEWER_KEY, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    SECRET, WAIT, clock, escalation, incident_opened, notifier, publish, published, receiver,
)

pytestmark = pytest.mark.integration


def channels(service, receiver, *names: str) -> dict[str, str]:
    ids = {}
    with service.client() as client:
        for name in names:
            created = client.post("/v1/channels", json={
                "name": name, "url": receiver.url(f"/{name}"), "secret": SECRET})
            assert created.status_code == 201, created.text
            ids[name] = created.json()["id"]
    return ids


def ladder(service, name: str, steps: list[tuple[list[str], float]], repeat: int = 0) -> dict:
    with service.client() as client:
        created = client.post("/v1/policies", json={
            "name": name, "severities": ["P0"], "repeat": repeat,
            "steps": [{"targets": [{"kind": "channel", "ref": c} for c in targets],
                       "delay_seconds": delay} for targets, delay in steps]})
    assert created.status_code == 201, created.text
    return created.json()


def reasons(receiver, path: str, incident_id: str) -> list[str]:
    return [json.loads(r["body"])["reason"] for r in receiver.received(path, incident_id)]


def test_a_three_step_ladder_climbs_then_repeats_once_then_stops(notifier, nats_url, clock,
                                                                  receiver):
    ids = channels(notifier, receiver, "store", "region", "hq")
    policy = ladder(notifier, "store-red", [([ids["store"]], 60), ([ids["region"]], 120),
                                            ([ids["hq"]], 300)], repeat=1)
    assert [len(s["targets"]) for s in policy["steps"]] == [1, 1, 1] and policy["repeat"] == 1
    assert policy["notify"] == [ids["store"]] and policy["escalate_to"] == [ids["region"]]
    incident = incident_opened(clock)
    publish(nats_url, incident)
    wait_until(lambda: reasons(receiver, "/store", incident.incident_id), WAIT, "step 0")

    expected = [("/region", "escalation.step1", 60), ("/hq", "escalation.step2", 120),
                ("/store", "escalation.step0.repeat1", 300),
                ("/region", "escalation.step1.repeat1", 60), ("/hq", "escalation.step2.repeat1", 120)]
    for path, reason, delay in expected:
        due = wait_until(lambda: (e := escalation(notifier, incident.incident_id))
                         and e["status"] == "waiting" and e, WAIT, f"the timer before {reason}")
        before = len(reasons(receiver, path, incident.incident_id))
        clock.advance(delay - 1)  # not yet
        clock.advance(1)
        wait_until(lambda: len(reasons(receiver, path, incident.incident_id)) > before, WAIT,
                   f"{reason} at {path} (due {due['due_at']})")
        assert reasons(receiver, path, incident.incident_id)[-1] == reason

    done = wait_until(lambda: (e := escalation(notifier, incident.incident_id))
                      and e["status"] == "escalated" and e, WAIT, "the ladder to end")
    assert (done["step"], done["round"]) == (2, 1)
    triggered = wait_until(
        lambda: (t := published(nats_url, EscalationTriggered, incident.incident_id))
        and len(t) == 5 and t, WAIT, "five EscalationTriggered")
    assert [t.data["reason"] for t in triggered] == [r for _, r, _ in expected]
    clock.advance(3600)  # nothing after the last repeat
    assert reasons(receiver, "/store", incident.incident_id) == [
        "incident.opened", "escalation.step0.repeat1"]


def test_an_acknowledgement_stops_the_climb_midway(notifier, nats_url, clock, receiver):
    ids = channels(notifier, receiver, "store", "region", "hq")
    ladder(notifier, "store-red", [([ids["store"]], 60), ([ids["region"]], 60),
                                   ([ids["hq"]], 60)])
    incident = incident_opened(clock)
    publish(nats_url, incident)
    wait_until(lambda: escalation(notifier, incident.incident_id), WAIT, "the timer")
    clock.advance(60)
    wait_until(lambda: reasons(receiver, "/region", incident.incident_id), WAIT, "step 1")
    wait_until(lambda: escalation(notifier, incident.incident_id)["step"] == 1, WAIT,
               "step 1 recorded")

    publish(nats_url, IncidentAcknowledged(incident_id=incident.incident_id, ref=incident.ref,
                                           by="li.na", at=clock.now()))
    wait_until(lambda: escalation(notifier, incident.incident_id)["status"] == "stopped", WAIT,
               "the ack to stop the climb")
    clock.advance(3600)
    # A later incident's step 1 firing proves the worker ran past this one's due time.
    other = incident_opened(clock)
    publish(nats_url, other)
    wait_until(lambda: escalation(notifier, other.incident_id), WAIT, "the other timer")
    clock.advance(60)
    wait_until(lambda: reasons(receiver, "/region", other.incident_id), WAIT, "other step 1")
    assert reasons(receiver, "/hq", incident.incident_id) == []


def test_an_open_incident_keeps_the_ladder_it_started_with(notifier, nats_url, clock, receiver):
    ids = channels(notifier, receiver, "store", "region", "hq")
    policy = ladder(notifier, "store-red", [([ids["store"]], 60), ([ids["region"]], 60)])
    incident = incident_opened(clock)
    publish(nats_url, incident)
    wait_until(lambda: escalation(notifier, incident.incident_id), WAIT, "the timer")
    with notifier.client() as client:
        changed = client.patch(f"/v1/policies/{policy['id']}", json={"steps": [
            {"targets": [{"kind": "channel", "ref": ids["store"]}], "delay_seconds": 60},
            {"targets": [{"kind": "channel", "ref": ids["hq"]}], "delay_seconds": 60}]})
    assert changed.status_code == 200, changed.text
    clock.advance(60)
    wait_until(lambda: reasons(receiver, "/region", incident.incident_id), WAIT, "step 1")
    assert reasons(receiver, "/hq", incident.incident_id) == []


def test_a_bad_ladder_is_refused_naming_the_field(notifier, receiver):
    ids = channels(notifier, receiver, "store")
    bad = {
        "no steps and no notify": ({"steps": None}, "notify"),
        "an empty step": ({"steps": [{"targets": [], "delay_seconds": 60}]}, "targets"),
        "an unknown kind": ({"steps": [{"targets": [{"kind": "pager", "ref": "x"}],
                                        "delay_seconds": 60}]}, "kind"),
        "a missing channel": ({"steps": [{"targets": [
            {"kind": "channel", "ref": "8c6ce175-0f4f-5e56-8b1a-fe1beef528e8"}],
            "delay_seconds": 60}]}, "steps[0].targets[0].ref"),
        "a target twice": ({"steps": [{"targets": [{"kind": "channel", "ref": ids["store"]}] * 2,
                                       "delay_seconds": 60}]}, "steps[0].targets"),
        "a zero delay": ({"steps": [{"targets": [{"kind": "channel", "ref": ids["store"]}],
                                     "delay_seconds": 0}]}, "delay_seconds"),
        "too many repeats": ({"repeat": 99, "notify": [ids["store"]],
                              "escalate_after_seconds": 60}, "repeat"),
    }
    with notifier.client() as client:
        for why, (fields, field) in bad.items():
            body = {"name": "bad", "severities": ["P0"], **fields}
            response = client.post("/v1/policies", json={k: v for k, v in body.items()
                                                         if v is not None})
            assert response.status_code == 422, (why, response.text)
            assert field in response.text, (why, response.text)
    with notifier.client(VIEWER_KEY) as client:
        assert client.get("/v1/policies").json()["total"] == 0
