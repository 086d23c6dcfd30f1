"""The incidents service against real NATS JetStream and PostgreSQL: alerts published on the
DETECTOR stream become incidents people handle over HTTP, and the CAPA case closes them."""
from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import datetime, timezone

import httpx
import nats
import pytest

from shared.clock import ManualClock
from shared.contracts import (
    AlertRaised, CapaActionVerified, CapaClosed, CapaOpened, CloudEvent, Contract,
    EscalationTriggered, IncidentAcknowledged, IncidentClosed, IncidentOpened, IncidentResolved,
    NotificationDelivered, IncidentSlaBreached,
)
from tests.harness import API_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until

from services.incidents.main import create_app
from services.incidents.settings import IncidentsSettings

pytestmark = pytest.mark.integration
REF = re.compile(r"^P0-\d{4}-\d{2}-\d{3}$")


@pytest.fixture
def service(database_url, nats_url):
    settings = IncidentsSettings(database_url=database_url, nats_url=nats_url, api_keys=API_KEYS)
    running = RunningService(create_app(settings, clock=ManualClock())).start()
    yield running
    running.stop()


# -- talking to JetStream like the other services do ---------------------------------------------
def publish(nats_url: str, contract: Contract, msg_id: str | None = None) -> int:
    envelope = CloudEvent(id=msg_id or str(uuid.uuid4()), source=f"closedloop/{contract.PRODUCER}",
                          type=contract.type_name(), time=datetime.now(timezone.utc),
                          data=contract.model_dump(mode="json"))
    return publish_raw(nats_url, contract.type_name(), envelope.to_bytes(), envelope.id)


def publish_raw(nats_url: str, subject: str, body: bytes, msg_id: str) -> int:
    async def go() -> int:
        nc = await nats.connect(nats_url)
        try:
            ack = await nc.jetstream().publish(subject, body, headers={"Nats-Msg-Id": msg_id})
            return ack.seq
        finally:
            await nc.close()
    return asyncio.run(go())


def stream_messages(nats_url: str, stream: str) -> list[tuple[str, dict, bytes]]:
    async def go() -> list[tuple[str, dict, bytes]]:
        nc = await nats.connect(nats_url)
        try:
            js = nc.jetstream()
            state = (await js.stream_info(stream)).state
            if not state.messages:
                return []
            messages = [await js.get_msg(stream, seq)
                        for seq in range(state.first_seq, state.last_seq + 1)]
            return [(m.subject, dict(m.headers or {}), m.data) for m in messages]
        finally:
            await nc.close()
    return asyncio.run(go())


def published(nats_url: str, contract: type[Contract], incident_id: str) -> list[dict]:
    """Payloads of one contract about one incident on the INCIDENTS stream."""
    found = []
    for subject, _, body in stream_messages(nats_url, "INCIDENTS"):
        envelope = CloudEvent.from_bytes(body)
        if subject == contract.type_name() and envelope.data["incident_id"] == incident_id:
            found.append(envelope.data)
    return found


def handled(nats_url: str, stream: str, seq: int) -> bool:
    """The service's durable consumer on `stream` has finished with message `seq`."""
    async def go() -> bool:
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().consumer_info(stream, f"incidents-{stream.lower()}")
            return info.ack_floor.stream_seq >= seq
        finally:
            await nc.close()
    return asyncio.run(go())


def alert(fingerprint: str, alert_id: str | None = None, severity: str = "P0") -> AlertRaised:
    return AlertRaised(
        alert_id=alert_id or f"alert-{uuid.uuid4().hex[:8]}", fingerprint=fingerprint,
        source="rule", rule_id="rule-latency", name="checkout_latency_p99", metric="latency_ms",
        entity="store-42", severity=severity, value=950.0, threshold=800.0,
        summary="p99 latency above 800 ms for 3 minutes", started_at=datetime.now(timezone.utc))


def listed(client: httpx.Client, **params) -> dict:
    response = client.get("/v1/incidents", params=params)
    assert response.status_code == 200, response.text
    return response.json()


# -- the story ----------------------------------------------------------------------------------------
def test_an_alert_becomes_one_incident_that_people_and_the_capa_case_carry_to_closure(
        service, nats_url):
    client = service.client(RESPONDER_KEY)
    fingerprint = f"fp-{uuid.uuid4().hex[:8]}"
    first = alert(fingerprint)
    publish(nats_url, first, msg_id=f"detector:{uuid.uuid4()}")

    page = wait_until(lambda: listed(client)["items"], message="the incident in the read model")
    [incident] = page
    assert REF.match(incident["ref"]), incident["ref"]
    assert (incident["severity"], incident["status"], incident["fingerprint"]) == (
        "P0", "new", fingerprint)
    ref, incident_id = incident["ref"], incident["id"]

    # The same alert re-sent (a new message id, so JetStream keeps it), then a new firing.
    resent = publish(nats_url, first, msg_id=f"detector:{uuid.uuid4()}")
    wait_until(lambda: handled(nats_url, "DETECTOR", resent), message="the re-sent alert handled")
    assert [e["action"] for e in client.get(f"/v1/incidents/{ref}/timeline").json()] == ["opened"]
    again = publish(nats_url, alert(fingerprint), msg_id=f"detector:{uuid.uuid4()}")
    wait_until(lambda: handled(nats_url, "DETECTOR", again), message="the new firing handled")
    detail = client.get(f"/v1/incidents/{ref}").json()
    assert len(detail["alert_ids"]) == 2 and detail["alert_ids"][0] == first.alert_id
    assert listed(client)["total"] == 1
    assert published(nats_url, IncidentOpened, incident_id)[0]["ref"] == ref

    # The notifier reports; then a person takes the incident on and restores service.
    publish(nats_url, NotificationDelivered(
        notification_id=str(uuid.uuid4()), incident_id=incident_id, ref=ref, channel_id="ch-1",
        channel_name="store-ops", reason="incident.opened", attempts=1, status_code=200,
        at=datetime.now(timezone.utc)))
    publish(nats_url, EscalationTriggered(
        incident_id=incident_id, ref=ref, step=1, channel_ids=["oncall-lead"],
        waited_seconds=300, at=datetime.now(timezone.utc)))
    wait_until(lambda: "escalated" in [e["action"] for e in
                                       client.get(f"/v1/incidents/{ref}/timeline").json()],
               message="the escalation on the timeline")

    acked = client.post(f"/v1/incidents/{ref}/acknowledge", json={"by": "alice", "note": "on it"})
    assert acked.status_code == 200, acked.text
    assert (acked.json()["status"], acked.json()["status_label"]) == ("investigating", "调查中")
    twice = client.post(f"/v1/incidents/{ref}/acknowledge", json={"by": "bob"})
    assert twice.status_code == 409 and ref in twice.json()["detail"]
    resolved = client.post(f"/v1/incidents/{incident_id}/resolve",
                           json={"by": "alice", "summary": "grew the connection pool"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "planning"

    wait_until(lambda: published(nats_url, IncidentResolved, incident_id),
               message="IncidentResolved on the INCIDENTS stream")
    [ack_event] = published(nats_url, IncidentAcknowledged, incident_id)
    assert (ack_event["by"], ack_event["ref"]) == ("alice", ref)
    assert published(nats_url, IncidentResolved, incident_id)[0]["summary"] == (
        "grew the connection pool")

    # The CAPA case: opened, an action verified by someone other than its owner, closed.
    capa_id = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    publish(nats_url, CapaOpened(capa_id=capa_id, incident_id=incident_id, ref=ref,
                                 title="checkout latency", at=now))
    publish(nats_url, CapaActionVerified(capa_id=capa_id, incident_id=incident_id,
                                         action_id="A-1", kind="corrective", owner="bob",
                                         verifier="carol", at=now))
    publish(nats_url, CapaClosed(capa_id=capa_id, incident_id=incident_id, ref=ref,
                                 root_cause="connection pool too small", actions=2, at=now))
    wait_until(lambda: client.get(f"/v1/incidents/{ref}").json()["status"] == "closed",
               message="the incident closed by the CAPA case")
    [closed] = wait_until(lambda: published(nats_url, IncidentClosed, incident_id),
                          message="IncidentClosed on the INCIDENTS stream")
    assert closed["capa_id"] == capa_id

    timeline = client.get(f"/v1/incidents/{ref}/timeline").json()
    assert [e["action"] for e in timeline] == [
        "opened", "alert attached", "notification delivered", "escalated", "acknowledged",
        "role assigned", "resolved", "CAPA opened", "action verified", "closed"]
    detail = {e["action"]: e["detail"] for e in timeline}
    assert detail["notification delivered"] == (
        "notified channel 'store-ops' (incident.opened), attempt 1, HTTP 200")
    assert "root cause 'connection pool too small'" in detail["closed"]
    assert timeline[8]["actor"] == "carol"

    # The read model follows; a manager-level key archives the closed incident.
    wait_until(lambda: listed(client, status="closed")["total"] == 1,
               message="the read model shows the incident closed")
    row = listed(client, status="closed")["items"][0]
    assert (row["capa_id"], row["acknowledged_at"] is not None) == (capa_id, True)
    assert listed(client, status="new")["total"] == 0
    assert client.post(f"/v1/incidents/{ref}/archive").status_code == 403
    archived = service.client().post(f"/v1/incidents/{ref}/archive")
    assert archived.status_code == 200 and archived.json()["status"] == "archived"


def test_the_resolution_repeats_how_often_the_alerts_rule_evaluates(service, nats_url):
    client = service.client(RESPONDER_KEY)
    fingerprint = f"fp-{uuid.uuid4().hex[:8]}"
    hourly = alert(fingerprint).model_copy(update={"interval_seconds": 3600.0})
    publish(nats_url, hourly, msg_id=f"detector:{uuid.uuid4()}")
    [incident] = wait_until(lambda: [i for i in listed(client)["items"]
                                     if i["fingerprint"] == fingerprint],
                            message="the incident in the read model")
    resolved = client.post(f"/v1/incidents/{incident['id']}/resolve",
                           json={"by": "alice", "summary": "grew the connection pool"})
    assert resolved.status_code == 200, resolved.text
    [data] = wait_until(lambda: published(nats_url, IncidentResolved, incident["id"]),
                        message="IncidentResolved on the INCIDENTS stream")
    assert data["interval_seconds"] == 3600.0


def test_a_garbage_message_is_dead_lettered_and_the_consumer_keeps_going(service, nats_url):
    client = service.client(VIEWER_KEY)
    publish_raw(nats_url, AlertRaised.type_name(), b"{not json", msg_id=str(uuid.uuid4()))
    # A fact about an incident this service never opened is not poison: it is skipped.
    publish(nats_url, NotificationDelivered(
        notification_id=str(uuid.uuid4()), incident_id=str(uuid.uuid4()), ref="P0-2026-11-999",
        channel_id="ch-1", channel_name="store-ops", reason="incident.opened", attempts=1,
        at=datetime.now(timezone.utc)))
    publish(nats_url, alert(f"fp-{uuid.uuid4().hex[:8]}", severity="P0"))

    dead = wait_until(lambda: stream_messages(nats_url, "DLQ"), message="a dead letter")
    [(subject, headers, body)] = dead
    assert subject == f"closedloop.dlq.incidents.{AlertRaised.type_name()}"
    assert body == b"{not json" and "unreadable message" in headers["Closedloop-Dlq-Reason"]
    wait_until(lambda: listed(client)["total"] == 1, message="the next alert still handled")
    notifications = stream_messages(nats_url, "NOTIFIER")
    wait_until(lambda: handled(nats_url, "NOTIFIER", len(notifications)),
               message="the unknown incident's notification acknowledged")
    assert len(stream_messages(nats_url, "DLQ")) == 1


def test_http_asks_for_a_key_a_role_a_known_incident_and_a_named_person(service, nats_url):
    publish(nats_url, alert(f"fp-{uuid.uuid4().hex[:8]}"))
    [incident] = wait_until(lambda: listed(service.client(VIEWER_KEY))["items"],
                            message="an incident to act on")
    ref = incident["ref"]

    anonymous = httpx.get(f"{service.url}/v1/incidents")
    assert anonymous.status_code == 401
    viewer = service.client(VIEWER_KEY)
    assert viewer.get(f"/v1/incidents/{ref}").status_code == 200
    forbidden = viewer.post(f"/v1/incidents/{ref}/acknowledge", json={"by": "vera"})
    assert forbidden.status_code == 403 and "responder" in forbidden.json()["detail"]

    responder = service.client(RESPONDER_KEY)
    assert responder.get("/v1/incidents/P0-2026-11-999").status_code == 404
    assert responder.get(f"/v1/incidents/{uuid.uuid4()}/timeline").status_code == 404
    assert responder.post("/v1/incidents/P0-2026-11-999/acknowledge",
                          json={"by": "alice"}).status_code == 404
    missing_by = responder.post(f"/v1/incidents/{ref}/acknowledge", json={"note": "who?"})
    assert missing_by.status_code == 422 and missing_by.json()["errors"][0]["field"] == "by"
    no_summary = responder.post(f"/v1/incidents/{ref}/resolve", json={"by": "alice"})
    assert no_summary.status_code == 422 and "summary" in no_summary.json()["detail"]
    assert responder.get("/v1/incidents", params={"severity": "P9"}).status_code == 422
    early = service.client().post(f"/v1/incidents/{ref}/archive")
    assert early.status_code == 409 and f"incident {ref} cannot be archived" in early.json()["detail"]
    # Nothing above changed the incident.
    assert [e["action"] for e in viewer.get(f"/v1/incidents/{ref}/timeline").json()] == ["opened"]
    assert json.loads(viewer.get(f"/v1/incidents/{ref}").text)["status"] == "new"


def test_a_page_offset_beyond_any_page_is_refused_with_the_limit(service):
    with service.client() as client:
        r = client.get("/v1/incidents", params={"offset": 10**20})
        assert r.status_code == 422 and "offset" in r.text
        assert client.get("/v1/incidents", params={"offset": 10**6}).json()["items"] == []


def test_missed_deadlines_are_recorded_once_each_and_published(service, nats_url):
    """Nobody acknowledges a P1 within 15 minutes; nobody restores service within 24 hours.
    The SLA watch records each breach once, on the incident and on the bus."""
    clock = service.runtime.clock
    fingerprint = f"fp-sla-{uuid.uuid4().hex[:6]}"
    publish(nats_url, alert(fingerprint, severity="P1"))
    with service.client() as client:
        [incident] = wait_until(lambda: listed(client, severity="P1")["items"],
                                message="incident opened")
        clock.advance(60 * 14)  # within the response SLA: nothing to record
        clock.advance(60 * 2)  # now 16 minutes: the response SLA is missed
        detail = wait_until(lambda: (lambda d: d if d["sla_breaches"] else None)(
            client.get(f"/v1/incidents/{incident['ref']}").json()), message="respond breach")
        assert detail["sla_breaches"] == ["respond"]
        assert detail["timeline"][-1]["action"] == "SLA breached"
        assert "P1 respond SLA missed: nobody acknowledged" in detail["timeline"][-1]["detail"]
        wait_until(lambda: listed(client, severity="P1")["items"][0]["respond_breached"],
                   message="list shows the breach")
        assert [i["ref"] for i in listed(client, breached="true")["items"]] == [incident["ref"]]
        assert listed(client, breached="false")["items"] == []

        assert client.post(f"/v1/incidents/{incident['ref']}/acknowledge",
                           json={"by": "alice"}).status_code == 200
        clock.advance(24 * 3600)  # the resolution SLA passes too
        wait_until(lambda: client.get(f"/v1/incidents/{incident['ref']}").json()["sla_breaches"]
                   == ["respond", "resolve"], message="resolve breach")
    breaches = wait_until(lambda: (lambda b: b if len(b) == 2 else None)(
        published(nats_url, IncidentSlaBreached, incident["id"])), message="breaches published")
    assert [b["kind"] for b in breaches] == ["respond", "resolve"]


def test_raci_roles_are_assigned_listed_and_filterable(service, nats_url):
    publish(nats_url, alert(f"fp-raci-{uuid.uuid4().hex[:6]}", severity="P2"))
    with service.client() as client:
        [incident] = wait_until(lambda: listed(client, severity="P2")["items"],
                                message="incident opened")
        ref = incident["ref"]
        client.post(f"/v1/incidents/{ref}/acknowledge", json={"by": "alice"}).raise_for_status()
        for role, person in (("responsible", "bob"), ("accountable", "region-east"),
                             ("consulted", "dba"), ("informed", "store-042")):
            r = client.post(f"/v1/incidents/{ref}/roles",
                            json={"role": role, "person": person, "by": "lead"})
            assert r.status_code == 200, r.text
        assert r.json()["raci"] == {"responsible": ["bob"], "accountable": ["region-east"],
                                    "consulted": ["dba"], "informed": ["store-042"]}
        bad = client.post(f"/v1/incidents/{ref}/roles",
                          json={"role": "owner", "person": "x", "by": "lead"})
        assert bad.status_code == 422 and "role" in bad.text
        mine = wait_until(lambda: listed(client, responsible="bob")["items"],
                          message="list filtered by responsible")
        assert [(i["ref"], i["accountable"]) for i in mine] == [(ref, "region-east")]
