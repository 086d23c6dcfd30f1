"""A silence or maintenance window that begins while an incident's ladder climbs, over the
running notifier (real NATS and PostgreSQL, time on a ManualClock): the step that falls due
under it is held, recorded on the escalation and published; the ladder resumes when the
silence ends (or is expired early) if nobody acknowledged meanwhile."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.contracts import IncidentAcknowledged, NotificationsHeld
from tests.harness import MANAGER_KEY, wait_until
from tests.integration.test_notifier_holds import opened, told
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, escalation, notifier, publish, published, receiver, setup_routing,
)

pytestmark = pytest.mark.integration


def silence(service, clock, minutes: float) -> dict:
    with service.client(MANAGER_KEY) as client:
        created = client.post("/v1/silences", headers={"X-Actor": "li.na"}, json={
            "matchers": ['store=~"sz-.*"'], "comment": "store refit",
            "ends_at": (clock.now() + timedelta(minutes=minutes)).isoformat()})
    assert created.status_code == 201, created.text
    return created.json()


def climbing(service, nats_url, receiver, incident) -> None:
    """Opened, step 0 told, and the timer for step 1 waiting."""
    publish(nats_url, incident)
    wait_until(lambda: told(receiver, "/oncall", incident.incident_id) == ["incident.opened"],
               WAIT, f"step 0 of {incident.ref}")
    wait_until(lambda: (e := escalation(service, incident.incident_id))
               and e["status"] == "waiting", WAIT, f"the timer of {incident.ref}")


def held_by(service, incident_id: str, silence_id: str) -> dict:
    return wait_until(lambda: (e := escalation(service, incident_id))
                      and e["held_id"] == silence_id and e, WAIT,
                      f"{incident_id}'s step 1 held by the silence")


def test_a_silence_begun_mid_ladder_holds_the_next_step_until_it_ends(notifier, nats_url, clock,
                                                                    receiver):
    setup_routing(notifier, receiver, escalate_after=600)
    store, elsewhere = opened(clock), opened(clock, store="bj-chaoyang")
    climbing(notifier, nats_url, receiver, store)
    climbing(notifier, nats_url, receiver, elsewhere)

    clock.advance(300)  # the ladders climb; then the store's refit begins
    refit = silence(notifier, clock, minutes=30)
    clock.advance(300)  # step 1 falls due under the silence
    # The other store's step 1 goes out: the worker has looked at both.
    wait_until(lambda: told(receiver, "/managers", elsewhere.incident_id) == ["escalation.step1"],
               WAIT, "step 1 where nothing is silenced")
    held = held_by(notifier, store.incident_id, refit["id"])
    assert held["held_kind"] == "silence" and held["status"] == "waiting" and held["step"] == 0
    assert datetime.fromisoformat(held["held_until"]) == datetime.fromisoformat(refit["ends_at"])
    assert told(receiver, "/managers", store.incident_id) == []
    [fact] = wait_until(lambda: published(nats_url, NotificationsHeld, store.incident_id), WAIT,
                        "NotificationsHeld for the held step")
    assert (fact.data["kind"], fact.data["hold_id"], fact.data["name"]) == (
        "silence", refit["id"], "store refit")

    clock.advance(timedelta(minutes=30))  # the silence ends; the alert still fires
    wait_until(lambda: told(receiver, "/managers", store.incident_id) == ["escalation.step1"],
               WAIT, "step 1 told when the silence ends")
    resumed = wait_until(lambda: (e := escalation(notifier, store.incident_id))
                         and e["step"] == 1 and e, WAIT, "step 1 recorded")
    assert resumed["held_id"] is None and resumed["status"] == "escalated"
    # The held step was told once, the step 0 channel never again.
    assert told(receiver, "/oncall", store.incident_id) == ["incident.opened"]


def test_an_expired_silence_resumes_the_ladder_unless_someone_acknowledged(notifier, nats_url,
                                                                           clock, receiver):
    setup_routing(notifier, receiver, escalate_after=600)
    left, taken = opened(clock), opened(clock)
    climbing(notifier, nats_url, receiver, left)
    climbing(notifier, nats_url, receiver, taken)
    refit = silence(notifier, clock, minutes=120)
    clock.advance(600)
    held_by(notifier, left.incident_id, refit["id"])
    held_by(notifier, taken.incident_id, refit["id"])

    publish(nats_url, IncidentAcknowledged(incident_id=taken.incident_id, ref=taken.ref,
                                           by="li.na", at=clock.now()))
    wait_until(lambda: escalation(notifier, taken.incident_id)["status"] == "stopped", WAIT,
               "the acknowledgement to stop the held ladder")
    clock.advance(60)
    with notifier.client(MANAGER_KEY) as client:  # the refit finished early
        assert client.delete(f"/v1/silences/{refit['id']}").status_code == 200
    wait_until(lambda: told(receiver, "/managers", left.incident_id) == ["escalation.step1"],
               WAIT, "step 1 once the silence was expired, long before its planned end")
    assert told(receiver, "/managers", taken.incident_id) == []


def test_a_maintenance_window_opening_mid_ladder_holds_until_it_is_deleted(notifier, nats_url,
                                                                          clock, receiver):
    setup_routing(notifier, receiver, escalate_after=600)
    incident = opened(clock)
    climbing(notifier, nats_url, receiver, incident)
    opens = clock.now() + timedelta(minutes=5)  # while step 1 is still ahead
    with notifier.client(MANAGER_KEY) as client:
        window = client.post("/v1/maintenance-windows", json={
            "name": "pos-update", "matchers": ['store=~"sz-.*"'], "time_zone": "UTC",
            "days": [opens.strftime("%a").lower()], "start": opens.strftime("%H:%M"),
            "duration_minutes": 60, "comment": "POS updates"})
    assert window.status_code == 201, window.text
    clock.advance(600)
    held = held_by(notifier, incident.incident_id, window.json()["id"])
    assert held["held_kind"] == "maintenance"
    assert datetime.fromisoformat(held["held_until"]) == opens + timedelta(minutes=60)

    clock.advance(300)
    with notifier.client(MANAGER_KEY) as client:  # the update was called off
        assert client.delete(f"/v1/maintenance-windows/{window.json()['id']}").status_code == 204
    wait_until(lambda: told(receiver, "/managers", incident.incident_id) == ["escalation.step1"],
               WAIT, "step 1 once the window was deleted")
    fired = wait_until(lambda: (e := escalation(notifier, incident.incident_id))
                       and e["step"] == 1 and e, WAIT, "step 1 recorded")
    assert datetime.fromisoformat(fired["escalated_at"]) == clock.now()
