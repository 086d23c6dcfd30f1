"""Channel safety against real NATS and PostgreSQL: internal destinations are refused (at
definition for IP literals, at send time for every resolved address) and explained on the
delivery; secrets are sealed in the event store; channels and policies are edited, disabled
and their secrets rotated, each change a stored event with its actor."""
from __future__ import annotations

import uuid

import pytest

from services.notifier.domain import Channel
from tests.harness import RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    MANAGERS_SECRET, SECRET, WAIT, check_signed, clock, delivery_with, incident_opened,
    publish, receiver, setup_routing, start_notifier,
)

pytestmark = pytest.mark.integration

INTERNAL = {"loopback": "http://127.0.0.1:9/hook", "private": "http://10.1.2.3/hook",
            "metadata": "http://169.254.169.254/latest/meta-data"}
NO_ALLOW_LIST = {"allowed_networks": ""}


@pytest.fixture
def notifier(database_url, nats_url, clock):  # noqa: F811
    service = start_notifier(database_url, nats_url, clock)
    yield service
    service.stop()


def make_channel(client, name: str, url: str, **extra) -> dict:
    response = client.post("/v1/channels", json={"name": name, "url": url, "secret": SECRET,
                                                 **extra})
    assert response.status_code == 201, response.text
    return response.json()


def test_internal_literal_addresses_are_refused_when_a_channel_is_defined(
        database_url, nats_url, clock):  # noqa: F811
    service = start_notifier(database_url, nats_url, clock, **NO_ALLOW_LIST)
    try:
        with service.client() as admin:
            for what, url in INTERNAL.items():
                refused = admin.post("/v1/channels", json={"name": what, "url": url,
                                                           "secret": SECRET})
                assert refused.status_code == 422, refused.text
                [error] = refused.json()["errors"]
                assert error["field"] == "url"
                assert "CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS" in error["message"]
            assert "link-local" in admin.post("/v1/channels", json={
                "name": "m", "url": INTERNAL["metadata"], "secret": SECRET}).text
            # A host name passes here: what it resolves to is checked when sending.
            make_channel(admin, "by-name", "http://localhost:9/hook")
    finally:
        service.stop()


def test_internal_destinations_are_refused_at_send_time_and_explained_on_the_delivery(
        database_url, nats_url, clock, receiver):  # noqa: F811
    # Channels made while an allow-list covered them; then the notifier runs without one.
    allowing = start_notifier(database_url, nats_url, clock,
                              allowed_networks="127.0.0.0/8,10.0.0.0/8,169.254.0.0/16")
    try:
        with allowing.client() as admin:
            ids = [make_channel(admin, what, url)["id"] for what, url in INTERNAL.items()]
            ids.append(make_channel(admin, "by-name", receiver.url("/x").replace(
                "127.0.0.1", "localhost"))["id"])
            policy = admin.post("/v1/policies", json={
                "name": "all", "severities": ["P1"], "notify": ids,
                "escalate_after_seconds": 3600})
            assert policy.status_code == 201, policy.text
    finally:
        allowing.stop()

    service = start_notifier(database_url, nats_url, clock, **NO_ALLOW_LIST)
    try:
        incident = incident_opened(clock, severity="P1")
        publish(nats_url, incident)

        def all_failed():
            with service.client() as admin:
                items = admin.get("/v1/deliveries",
                                  params={"incident_id": incident.incident_id}).json()["items"]
            return len(items) == 4 and all(i["status"] == "failed" for i in items) and items

        failed = {i["channel_name"]: i for i in wait_until(all_failed, WAIT, "four refusals")}
        assert {n: i["attempts"] for n, i in failed.items()} == dict.fromkeys(failed, 1)
        assert "127.0.0.1 is a loopback address" in failed["loopback"]["last_error"]
        assert "10.1.2.3 is a private address" in failed["private"]["last_error"]
        assert "169.254.169.254 is a link-local address" in failed["metadata"]["last_error"]
        assert "localhost resolves to" in failed["by-name"]["last_error"]
        assert all(i["last_error_class"] == "destination_refused" for i in failed.values())
        assert receiver.requests == []  # nothing reached the loopback receiver

        with service.client() as admin:
            history = admin.get(f"/v1/deliveries/{failed['metadata']['id']}").json()["history"]
        assert [(a["outcome"], a["retryable"]) for a in history] == [("failed", False)]

        # Viewers learn what kind of failure it was, not which internal address was probed.
        with service.client(VIEWER_KEY) as viewer:
            seen = viewer.get("/v1/deliveries", params={"incident_id": incident.incident_id})
            detail = viewer.get(f"/v1/deliveries/{failed['private']['id']}").json()
        assert "10.1.2.3" not in seen.text and "127.0.0.1" not in seen.text
        assert {i["last_error"] for i in seen.json()["items"]} == {
            "the destination is not allowed by the egress policy (details for managers)"}
        assert "10.1.2.3" not in detail["history"][0]["error"]
    finally:
        service.stop()


def test_secrets_and_header_values_are_sealed_in_the_event_store(notifier, receiver):
    setup_routing(notifier, receiver)  # oncall has an Authorization header
    app = notifier.runtime.application
    stored = b"".join(n.state for n in app.recorder.select_notifications(start=1, limit=10_000))
    assert stored, "the store holds the channels' events"
    for clear in (SECRET, MANAGERS_SECRET, "receiver-token"):
        assert clear.encode() not in stored
    assert b"fernet:" in stored


def test_a_disabled_channel_is_skipped_with_its_reason_and_enabled_again(
        notifier, nats_url, clock, receiver):  # noqa: F811
    routing = setup_routing(notifier, receiver, escalate_after=3600)
    oncall = routing["oncall"]["id"]
    with notifier.client(RESPONDER_KEY) as responder:
        assert responder.patch(f"/v1/channels/{oncall}", json={"enabled": False}).status_code == 403
    with notifier.client() as admin:
        disabled = admin.patch(f"/v1/channels/{oncall}", headers={"X-Actor": "mia"}, json={
            "enabled": False, "disabled_reason": "receiver migrating to the new pager"})
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False

    incident = incident_opened(clock)
    publish(nats_url, incident)
    skipped = wait_until(lambda: delivery_with(notifier, incident.incident_id, "incident.opened",
                                               status="skipped"), WAIT, "the skipped delivery")
    assert "receiver migrating" in skipped["last_error"] and skipped["attempts"] == 0
    assert receiver.received("/oncall", incident.incident_id) == []

    with notifier.client() as admin:
        assert admin.patch(f"/v1/channels/{oncall}", json={"enabled": True}).status_code == 200
    later = incident_opened(clock)
    publish(nats_url, later)
    wait_until(lambda: receiver.received("/oncall", later.incident_id), WAIT, "enabled again")
    events = notifier.runtime.application.stored_events(uuid.UUID(oncall))
    assert [(type(e).__name__, e.actor) for e in events[1:]] == [
        ("Disabled", "mia"), ("Enabled", "api")]
    assert isinstance(events[1], Channel.Disabled)


def test_a_rotated_secret_signs_at_once_and_the_old_one_signs_during_its_grace(
        notifier, nats_url, clock, receiver):  # noqa: F811
    routing = setup_routing(notifier, receiver, escalate_after=3600)
    oncall = routing["oncall"]["id"]
    with notifier.client() as admin:
        rotated = admin.post(f"/v1/channels/{oncall}/rotate-secret", json={"grace_seconds": 60})
        listed = admin.get("/v1/channels")
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert len(new_secret) >= 16 and new_secret not in listed.text

    incident = incident_opened(clock)
    publish(nats_url, incident)
    [request] = wait_until(lambda: receiver.received("/oncall", incident.incident_id), WAIT,
                           "a message signed with the new secret")
    check_signed(request, new_secret)
    previous = {**request, "headers": {
        "x-closedloop-signature": request["headers"]["x-closedloop-signature-previous"]}}
    check_signed(previous, SECRET)

    clock.advance(61)  # the grace window is over: only the new secret signs
    later = incident_opened(clock)
    publish(nats_url, later)
    [request] = wait_until(lambda: receiver.received("/oncall", later.incident_id), WAIT,
                           "a message after the grace window")
    check_signed(request, new_secret)
    assert "x-closedloop-signature-previous" not in request["headers"]


def test_a_channel_and_a_policy_are_edited_and_a_disabled_policy_matches_nothing(
        notifier, nats_url, clock, receiver):  # noqa: F811
    routing = setup_routing(notifier, receiver, escalate_after=3600)
    oncall, policy = routing["oncall"]["id"], routing["policy"]["id"]
    with notifier.client() as admin:
        moved = admin.patch(f"/v1/channels/{oncall}", json={
            "name": "oncall-eu", "url": receiver.url("/oncall-eu"),
            "headers": {"Authorization": "Bearer rotated-token"}})
        assert moved.status_code == 200, moved.text
        assert moved.json()["name"] == "oncall-eu"
        taken = admin.patch(f"/v1/channels/{oncall}", json={"name": "managers"})
        assert taken.status_code == 409
        bad = admin.patch(f"/v1/channels/{oncall}", json={"headers": {"Host": "internal"}})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "headers"
        # The freed name can be used again, for a channel of its own.
        make_channel(admin, "oncall", receiver.url("/spare"))
        revised = admin.patch(f"/v1/policies/{policy}", json={"severities": ["P0", "P1"]})
        assert revised.status_code == 200 and revised.json()["severities"] == ["P0", "P1"]
        assert admin.patch(f"/v1/policies/{uuid.uuid4()}", json={"enabled": False}
                           ).status_code == 404

    incident = incident_opened(clock, severity="P1")
    publish(nats_url, incident)
    [request] = wait_until(lambda: receiver.received("/oncall-eu", incident.incident_id), WAIT,
                           "the message at the channel's new URL")
    assert request["headers"]["authorization"] == "Bearer rotated-token"

    with notifier.client() as admin:
        off = admin.patch(f"/v1/policies/{policy}", json={"enabled": False})
        assert off.status_code == 200 and off.json()["enabled"] is False
    quiet = incident_opened(clock, severity="P1")
    publish(nats_url, quiet)
    sentinel_routing_receives_nothing(notifier, nats_url, clock, receiver, quiet.incident_id)
    kinds = [type(e).__name__ for e in
             notifier.runtime.application.stored_events(uuid.UUID(policy))]
    assert kinds == ["Defined", "Revised", "Disabled"]


def sentinel_routing_receives_nothing(service: RunningService, nats_url, clock, receiver,
                                      incident_id: str) -> None:
    """A P0 policy of its own proves the notifier handled what came before it."""
    with service.client() as admin:
        channel = make_channel(admin, f"sentinel-{uuid.uuid4().hex[:6]}",
                               receiver.url("/sentinel"))
        admin.post("/v1/policies", json={"name": f"sentinel-{channel['id']}",
                                         "severities": ["P3"], "notify": [channel["id"]],
                                         "escalate_after_seconds": 3600}).raise_for_status()
    sentinel = incident_opened(clock, severity="P3")
    publish(nats_url, sentinel)
    wait_until(lambda: receiver.received("/sentinel", sentinel.incident_id), WAIT, "sentinel")
    assert [r for r in receiver.requests if incident_id.encode() in r["body"]] == []
