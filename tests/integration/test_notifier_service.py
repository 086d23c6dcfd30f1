"""The notifier against real NATS and PostgreSQL: incidents published to JetStream become
HMAC-signed webhooks to a real HTTP receiver, retried with backoff, escalated once when nobody
acknowledges (across a restart and with two replicas), and reported on the NOTIFIER stream.
Time is a ManualClock, so backoffs and escalation delays pass when the test says so."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nats
import pytest
from nats.js.errors import NotFoundError

from services.notifier.main import create_app
from services.notifier.settings import NotifierSettings
from shared.clock import ManualClock
from shared.contracts import (
    CloudEvent, Contract, EscalationTriggered, IncidentAcknowledged, IncidentOpened,
    NotificationDelivered, NotificationFailed,
)
from tests.harness import (
    API_KEYS, NOTIFIER_SAFETY, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until,
)

pytestmark = pytest.mark.integration

SECRET = "oncall-secret-0123456789"
MANAGERS_SECRET = "managers-secret-0123456789"
WAIT = 20.0


# -- a real webhook receiver --------------------------------------------------------------------

class Receiver:
    """A tiny HTTP server that records every request and answers from a per-path plan."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.plans: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            answer = b"{}"  # what every request is answered with (a gateway may need more)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append({"path": self.path, "body": body,
                                              "headers": headers})
                    plan = receiver.plans.get(self.path) or []
                    status = plan.pop(0) if plan else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(self.answer)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def plan(self, path: str, statuses: list[int]) -> None:
        with self.lock:
            self.plans[path] = list(statuses)

    def received(self, path: str, incident_id: str | None = None) -> list[dict]:
        with self.lock:
            hits = [r for r in self.requests if r["path"] == path]
        if incident_id is not None:
            hits = [r for r in hits
                    if json.loads(r["body"])["incident"]["incident_id"] == incident_id]
        return hits

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def clock():
    return ManualClock()


def start_notifier(database_url: str, nats_url: str, clock: ManualClock,
                   **settings) -> RunningService:
    return RunningService(create_app(NotifierSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        **{**NOTIFIER_SAFETY, **settings}), clock=clock)).start()


@pytest.fixture
def notifier(database_url, nats_url, clock):
    service = start_notifier(database_url, nats_url, clock)
    yield service
    service.stop()


# -- NATS helpers -------------------------------------------------------------------------------

def run(coroutine):
    return asyncio.run(coroutine)


async def _publish(nats_url: str, subject: str, payload: bytes, msg_id: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


def publish(nats_url: str, contract: Contract, msg_id: str | None = None) -> None:
    envelope = CloudEvent(id=msg_id or f"test:{uuid.uuid4()}", source="closedloop/incidents",
                          type=contract.type_name(), time=datetime.now(timezone.utc),
                          data=contract.model_dump(mode="json"))
    run(_publish(nats_url, contract.type_name(), envelope.to_bytes(), envelope.id))


async def _stream(nats_url: str, stream: str) -> list:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        try:
            state = (await js.stream_info(stream)).state
        except NotFoundError:
            return []
        if state.messages == 0:
            return []
        messages = []
        for seq in range(state.first_seq, state.last_seq + 1):
            try:
                messages.append(await js.get_msg(stream, seq))
            except NotFoundError:
                continue
        return messages
    finally:
        await nc.close()


def published(nats_url: str, contract: type[Contract], incident_id: str) -> list[CloudEvent]:
    events = [CloudEvent.from_bytes(m.data) for m in run(_stream(nats_url, "NOTIFIER"))]
    return [e for e in events
            if e.type == contract.type_name() and e.data.get("incident_id") == incident_id]


def dead_letters(nats_url: str) -> list:
    return [m for m in run(_stream(nats_url, "DLQ"))
            if m.subject.startswith("closedloop.dlq.notifier.")]


async def _drained(nats_url: str) -> bool:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info("INCIDENTS", "notifier-incidents")
        return info.num_pending == 0 and info.num_ack_pending == 0
    finally:
        await nc.close()


def wait_drained(nats_url: str) -> None:
    wait_until(lambda: run(_drained(nats_url)), WAIT, "the notifier to ack every incident message")


# -- scenario helpers ---------------------------------------------------------------------------

def setup_routing(service: RunningService, receiver: Receiver, *, severities=("P0",),
                  escalate_after: float = 0.5) -> dict:
    with service.client() as client:
        oncall = client.post("/v1/channels", json={
            "name": "oncall", "kind": "webhook", "url": receiver.url("/oncall"), "secret": SECRET,
            "headers": {"Authorization": "Bearer receiver-token"}})
        managers = client.post("/v1/channels", json={
            "name": "managers", "url": receiver.url("/managers"), "secret": MANAGERS_SECRET})
        assert oncall.status_code == 201, oncall.text
        assert managers.status_code == 201, managers.text
        policy = client.post("/v1/policies", json={
            "name": "critical", "severities": list(severities), "notify": [oncall.json()["id"]],
            "escalate_after_seconds": escalate_after, "escalate_to": [managers.json()["id"]]})
        assert policy.status_code == 201, policy.text
    return {"oncall": oncall.json(), "managers": managers.json(), "policy": policy.json()}


def incident_opened(clock: ManualClock, severity: str = "P0") -> IncidentOpened:
    incident_id = f"inc-{uuid.uuid4().hex[:10]}"
    now = clock.now()
    return IncidentOpened(
        incident_id=incident_id, ref=f"{severity}-2026-11-{uuid.uuid4().int % 1000:03d}",
        fingerprint=f"fp-{incident_id}", severity=severity, title="checkout latency p99 > 2s",
        entity="checkout-api", alert_id=f"alert-{incident_id}", opened_at=now,
        respond_by=now + timedelta(minutes=15), resolve_by=now + timedelta(hours=4))


def deliveries(service: RunningService, incident_id: str, **filters) -> list[dict]:
    with service.client(VIEWER_KEY) as client:
        response = client.get("/v1/deliveries", params={"incident_id": incident_id, **filters})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def escalation(service: RunningService, incident_id: str) -> dict | None:
    with service.client(VIEWER_KEY) as client:
        items = client.get("/v1/escalations", params={"incident_id": incident_id}).json()["items"]
    return items[0] if items else None


def delivery_with(service: RunningService, incident_id: str, reason: str,
                  **expected) -> dict | None:
    for item in deliveries(service, incident_id):
        if item["reason"] == reason and all(item[k] == v for k, v in expected.items()):
            return item
    return None


def escalate_a_sentinel(service: RunningService, nats_url: str, clock: ManualClock,
                        receiver: Receiver) -> None:
    """Open another incident and let its escalation fire: once it has, the escalation worker
    has had every chance to (wrongly) fire again for incidents due before it."""
    sentinel = incident_opened(clock)
    publish(nats_url, sentinel)
    wait_until(lambda: (escalation(service, sentinel.incident_id) or {}).get("status") == "waiting",
               WAIT, "the sentinel's escalation timer")
    clock.advance(1)
    wait_until(lambda: receiver.received("/managers", sentinel.incident_id), WAIT,
               "the sentinel's escalation message")


def check_signed(request: dict, secret: str) -> dict:
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["x-closedloop-signature"], expected)
    return json.loads(request["body"])


# -- scenarios ----------------------------------------------------------------------------------

def test_an_opened_incident_reaches_its_channel_signed_and_is_reported_delivered(
        notifier, nats_url, clock, receiver):
    routing = setup_routing(notifier, receiver, escalate_after=3600)
    incident = incident_opened(clock)

    publish(nats_url, incident)

    [request] = wait_until(lambda: receiver.received("/oncall", incident.incident_id), WAIT,
                           "the webhook to reach the oncall receiver")
    body = check_signed(request, SECRET)
    assert body["incident"] == {"incident_id": incident.incident_id, "ref": incident.ref,
                                "severity": "P0", "title": incident.title,
                                "entity": incident.entity}
    assert body["reason"] == "incident.opened" and body["attempt"] == 1
    assert body["occurred_at"] == incident.opened_at.isoformat()
    assert request["headers"]["x-closedloop-timestamp"] == str(int(clock.now().timestamp()))
    assert request["headers"]["authorization"] == "Bearer receiver-token"
    delivery_id = request["headers"]["x-closedloop-delivery"]
    assert body["delivery_id"] == delivery_id

    delivered = wait_until(lambda: delivery_with(notifier, incident.incident_id,
                                                 "incident.opened", status="delivered"),
                           WAIT, "the delivery to show as delivered")
    assert delivered["id"] == delivery_id and delivered["attempts"] == 1
    assert delivered["channel_id"] == routing["oncall"]["id"]
    assert delivered["channel_name"] == "oncall" and delivered["last_status_code"] == 200

    [event] = wait_until(lambda: published(nats_url, NotificationDelivered, incident.incident_id),
                         WAIT, "NotificationDelivered on the NOTIFIER stream")
    assert event.data["notification_id"] == delivery_id and event.data["attempts"] == 1
    assert event.data["ref"] == incident.ref and event.data["channel_name"] == "oncall"
    assert event.correlationid  # carried on from the incident message

    with notifier.client(VIEWER_KEY) as client:
        detail = client.get(f"/v1/deliveries/{delivery_id}").json()
        channels = client.get("/v1/channels")
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in detail["history"]] == [
        (1, "delivered", 200)]
    # The secret went in, and never comes out.
    assert SECRET not in channels.text and "receiver-token" not in channels.text
    assert {c["name"]: c["has_secret"] for c in channels.json()["items"]} == {
        "oncall": True, "managers": True}


def test_no_ack_in_time_escalates_once_to_the_escalation_channel(
        notifier, nats_url, clock, receiver):
    routing = setup_routing(notifier, receiver, escalate_after=0.5)
    incident = incident_opened(clock)
    publish(nats_url, incident)
    wait_until(lambda: receiver.received("/oncall", incident.incident_id), WAIT, "first message")
    waiting = wait_until(lambda: escalation(notifier, incident.incident_id), WAIT, "the timer")
    assert waiting["status"] == "waiting" and not receiver.received("/managers")

    clock.advance(0.6)

    [request] = wait_until(lambda: receiver.received("/managers", incident.incident_id), WAIT,
                           "the escalation message to the managers channel")
    body = check_signed(request, MANAGERS_SECRET)
    assert body["reason"] == "escalation.step1" and body["incident"]["ref"] == incident.ref
    [triggered] = wait_until(lambda: published(nats_url, EscalationTriggered, incident.incident_id),
                             WAIT, "EscalationTriggered on the NOTIFIER stream")
    assert triggered.data["step"] == 1
    assert triggered.data["channel_ids"] == [routing["managers"]["id"]]
    assert triggered.data["waited_seconds"] == pytest.approx(0.6)
    wait_until(lambda: delivery_with(notifier, incident.incident_id, "escalation.step1",
                                     status="delivered"), WAIT, "escalation delivered")

    escalate_a_sentinel(notifier, nats_url, clock, receiver)
    assert len(receiver.received("/managers", incident.incident_id)) == 1
    assert len(published(nats_url, EscalationTriggered, incident.incident_id)) == 1
    assert escalation(notifier, incident.incident_id)["status"] == "escalated"


def test_an_acknowledged_incident_does_not_escalate(notifier, nats_url, clock, receiver):
    setup_routing(notifier, receiver, escalate_after=0.5)
    incident = incident_opened(clock)
    publish(nats_url, incident)
    wait_until(lambda: escalation(notifier, incident.incident_id), WAIT, "the timer")

    publish(nats_url, IncidentAcknowledged(incident_id=incident.incident_id, ref=incident.ref,
                                           by="ana", at=clock.now()))
    stopped = wait_until(
        lambda: (e := escalation(notifier, incident.incident_id)) and e["status"] == "stopped"
        and e, WAIT, "the ack to stop the timer")
    assert stopped["stopped_why"] == "acknowledged by ana"

    escalate_a_sentinel(notifier, nats_url, clock, receiver)
    assert receiver.received("/managers", incident.incident_id) == []
    assert published(nats_url, EscalationTriggered, incident.incident_id) == []
    assert delivery_with(notifier, incident.incident_id, "escalation.step1") is None


def test_the_escalation_timer_survives_a_restart_and_fires_once(
        database_url, nats_url, clock, receiver):
    first = start_notifier(database_url, nats_url, clock)
    try:
        setup_routing(first, receiver, escalate_after=0.5)
        incident = incident_opened(clock)
        publish(nats_url, incident)
        wait_until(lambda: delivery_with(first, incident.incident_id, "incident.opened",
                                         status="delivered"), WAIT, "first message delivered")
        wait_until(lambda: escalation(first, incident.incident_id), WAIT, "the timer")
    finally:
        first.stop()

    clock.advance(0.6)  # the escalation falls due while no notifier runs
    second = start_notifier(database_url, nats_url, clock)
    try:
        wait_until(lambda: receiver.received("/managers", incident.incident_id), WAIT,
                   "the restarted notifier to fire the escalation")
        escalate_a_sentinel(second, nats_url, clock, receiver)
        assert len(receiver.received("/managers", incident.incident_id)) == 1
        assert len(published(nats_url, EscalationTriggered, incident.incident_id)) == 1
        assert len(receiver.received("/oncall", incident.incident_id)) == 1  # not sent again
    finally:
        second.stop()


def test_two_replicas_send_each_message_and_fire_each_escalation_once(
        database_url, nats_url, clock, receiver):
    replicas = [start_notifier(database_url, nats_url, clock) for _ in range(2)]
    try:
        setup_routing(replicas[0], receiver, escalate_after=0.5)
        incidents = [incident_opened(clock) for _ in range(5)]
        for incident in incidents:
            publish(nats_url, incident)
        for incident in incidents:
            wait_until(lambda i=incident: escalation(replicas[1], i.incident_id), WAIT, "timers")

        clock.advance(0.6)

        for incident in incidents:
            wait_until(lambda i=incident: receiver.received("/managers", i.incident_id), WAIT,
                       "every escalation message")
        escalate_a_sentinel(replicas[1], nats_url, clock, receiver)
        for incident in incidents:
            assert len(receiver.received("/oncall", incident.incident_id)) == 1
            assert len(receiver.received("/managers", incident.incident_id)) == 1
            assert len(published(nats_url, EscalationTriggered, incident.incident_id)) == 1
    finally:
        for replica in replicas:
            replica.stop()


def test_a_receiver_failing_twice_gets_the_message_on_the_third_attempt(
        notifier, nats_url, clock, receiver):
    setup_routing(notifier, receiver, escalate_after=3600)
    receiver.plan("/oncall", [500, 500])
    incident = incident_opened(clock)
    publish(nats_url, incident)

    def at_attempt(n: int, status: str):
        return lambda: delivery_with(notifier, incident.incident_id, "incident.opened",
                                     attempts=n, status=status)

    first = wait_until(at_attempt(1, "retrying"), WAIT, "attempt 1 to fail")
    assert first["last_status_code"] == 500
    clock.advance(1)  # backoff after attempt 1
    wait_until(at_attempt(2, "retrying"), WAIT, "attempt 2 to fail")
    clock.advance(2)  # backoff after attempt 2
    delivered = wait_until(at_attempt(3, "delivered"), WAIT, "attempt 3 to succeed")

    requests = receiver.received("/oncall", incident.incident_id)
    assert [check_signed(r, SECRET)["attempt"] for r in requests] == [1, 2, 3]
    assert {r["headers"]["x-closedloop-delivery"] for r in requests} == {str(delivered["id"])}
    with notifier.client(VIEWER_KEY) as client:
        history = client.get(f"/v1/deliveries/{delivered['id']}").json()["history"]
    assert [(a["outcome"], a["status_code"], a["retryable"]) for a in history] == [
        ("failed", 500, True), ("failed", 500, True), ("delivered", 200, None)]
    [event] = wait_until(lambda: published(nats_url, NotificationDelivered, incident.incident_id),
                         WAIT, "NotificationDelivered")
    assert event.data["attempts"] == 3


def test_a_receiver_refusing_the_message_is_not_retried(notifier, nats_url, clock, receiver):
    setup_routing(notifier, receiver, escalate_after=3600)
    receiver.plan("/oncall", [410])
    incident = incident_opened(clock)
    publish(nats_url, incident)

    failed = wait_until(lambda: delivery_with(notifier, incident.incident_id, "incident.opened",
                                              status="failed"), WAIT, "the delivery to fail")
    assert failed["attempts"] == 1 and failed["last_status_code"] == 410
    [event] = wait_until(lambda: published(nats_url, NotificationFailed, incident.incident_id),
                         WAIT, "NotificationFailed on the NOTIFIER stream")
    assert event.data["attempts"] == 1 and "410" in event.data["error"]
    clock.advance(60)  # long past any backoff: still no second attempt
    later = incident_opened(clock)
    publish(nats_url, later)
    wait_until(lambda: receiver.received("/oncall", later.incident_id), WAIT, "a later message")
    assert len(receiver.received("/oncall", incident.incident_id)) == 1


def test_a_redelivered_incident_is_notified_once(notifier, nats_url, clock, receiver):
    setup_routing(notifier, receiver, escalate_after=3600)
    incident = incident_opened(clock)

    publish(nats_url, incident, msg_id=f"incidents:{uuid.uuid4()}")
    publish(nats_url, incident, msg_id=f"incidents:{uuid.uuid4()}")  # same payload, new id

    wait_until(lambda: delivery_with(notifier, incident.incident_id, "incident.opened",
                                     status="delivered"), WAIT, "the delivery")
    wait_drained(nats_url)
    assert len(deliveries(notifier, incident.incident_id)) == 1
    assert len(receiver.received("/oncall", incident.incident_id)) == 1
    with notifier.client(VIEWER_KEY) as client:
        escalations = client.get("/v1/escalations",
                                 params={"incident_id": incident.incident_id}).json()
    assert escalations["total"] == 1
    assert dead_letters(nats_url) == []


def test_a_garbage_message_lands_in_the_dlq_and_the_consumer_keeps_going(
        notifier, nats_url, clock, receiver):
    setup_routing(notifier, receiver, escalate_after=3600)
    subject = IncidentOpened.type_name()
    run(_publish(nats_url, subject, b"this is not a cloud event", f"garbage:{uuid.uuid4()}"))

    [letter] = wait_until(lambda: dead_letters(nats_url), WAIT, "the garbage in the DLQ")
    assert letter.subject == f"closedloop.dlq.notifier.{subject}"
    assert "unreadable" in letter.headers["Closedloop-Dlq-Reason"]

    incident = incident_opened(clock)
    publish(nats_url, incident)
    wait_until(lambda: receiver.received("/oncall", incident.incident_id), WAIT,
               "the next incident to be notified")


def test_the_api_checks_keys_roles_and_bodies(notifier, receiver):
    routing = setup_routing(notifier, receiver)
    assert "secret" not in routing["oncall"] and routing["oncall"]["has_secret"] is True
    assert routing["oncall"]["header_names"] == ["Authorization"]
    channel = {"name": "pager", "url": receiver.url("/pager"), "secret": SECRET}

    with notifier.client("not-a-key") as stranger:
        assert stranger.get("/v1/channels").status_code == 401
    with notifier.client() as client:
        client.headers.pop("X-API-Key")
        assert client.get("/v1/deliveries").status_code == 401
    with notifier.client(RESPONDER_KEY) as responder:
        refused = responder.post("/v1/channels", json=channel)
        assert refused.status_code == 403 and "manager" in refused.json()["detail"]
        assert responder.get("/v1/channels").status_code == 200
    with notifier.client() as admin:
        unknown = admin.post("/v1/policies", json={
            "name": "p2", "severities": ["P2"], "notify": [str(uuid.uuid4())],
            "escalate_after_seconds": 60, "escalate_to": []})
        assert unknown.status_code == 422
        assert unknown.json()["errors"][0]["field"] == "notify"
        zero = admin.post("/v1/policies", json={
            "name": "p3", "severities": ["P3"], "notify": [routing["oncall"]["id"]],
            "escalate_after_seconds": 0, "escalate_to": []})
        assert zero.status_code == 422
        assert zero.json()["errors"][0]["field"] == "escalate_after_seconds"
        weak = admin.post("/v1/channels", json={**channel, "secret": "short"})
        assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "secret"
        reserved = admin.post("/v1/channels", json={
            **channel, "headers": {"X-Closedloop-Signature": "forged"}})
        assert reserved.status_code == 422 and reserved.json()["errors"][0]["field"] == "headers"
        again = admin.post("/v1/channels", json={**channel, "name": "oncall"})
        assert again.status_code == 409 and "already exists" in again.json()["detail"]
        assert admin.get(f"/v1/deliveries/{uuid.uuid4()}").status_code == 404
        assert admin.get("/v1/deliveries/not-a-uuid").status_code == 422
        policies = wait_until(lambda: admin.get("/v1/policies").json()["items"], WAIT, "policies")
        assert [p["name"] for p in policies] == ["critical"]
