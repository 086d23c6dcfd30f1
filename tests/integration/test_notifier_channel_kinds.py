"""Channel kinds through the running notifier (real NATS and PostgreSQL): a bad kind or URL
is refused with a 4xx naming the field, tokens never come back out of the API, and an
incident opened reaches a real SMTP server as text and HTML."""
from __future__ import annotations

import html
import json
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tests.harness import MANAGER_KEY, VIEWER_KEY, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, Receiver, clock, deliveries, delivery_with, incident_opened, notifier, publish,
    start_notifier,
)
from tests.receivers import make_ca

pytestmark = pytest.mark.integration

TOKEN = "s3cr3ttoken1234"


def test_bad_kinds_and_urls_are_refused_naming_the_field_and_tokens_never_come_back(notifier):
    with notifier.client() as admin:
        for body, field, fix in [
            ({"kind": "pager", "url": "https://x.example.com/"}, "kind", "webhook"),
            ({"kind": "dingtalk", "url": "nope://x"}, "url", "dingtalk://<token>/"),
            ({"kind": "dingtalk", "url": "slack://T1234/B5678/abcdefghijklmnopqrstuvwx"}, "url",
             "not a dingtalk one"),
            ({"kind": "webhook", "url": "https://x.example.com/"}, "secret", "HMAC"),
            ({"kind": "email", "url": "smtps://mail.example.com/"}, "url", "?from="),
        ]:
            refused = admin.post("/v1/channels", json={"name": "bad", **body})
            assert refused.status_code == 422, refused.text
            [error] = refused.json()["errors"]
            assert error["field"].endswith(field) and fix in error["message"], error

        made = admin.post("/v1/channels", json={"name": "robot", "kind": "dingtalk",
                                                "url": f"dingtalk://{TOKEN}/"})
        assert made.status_code == 201, made.text
        renamed = admin.patch(f"/v1/channels/{made.json()['id']}", json={"name": "robot-2"})
    with notifier.client(VIEWER_KEY) as viewer:
        listed = wait_until(lambda: [c for c in viewer.get("/v1/channels").json()["items"]
                                     if c["name"] == "robot-2"], WAIT, "the channel listed")
    for text in (made.text, renamed.text, str(listed)):
        assert TOKEN not in text
    assert listed[0]["url"].startswith("dingtalk://") and not listed[0]["has_secret"]


@pytest.fixture
def mail_server(tmp_path):
    ca = make_ca(tmp_path, ["localhost"])
    inbox: list[tuple[list[str], bytes]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            inbox.append((list(envelope.rcpt_tos), envelope.original_content))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port,
                            tls_context=ca.server_context(), require_starttls=True)
    controller.start()
    yield ca, port, inbox
    controller.stop()


def test_an_opened_incident_is_mailed_over_starttls_as_text_and_html(
        database_url, nats_url, clock, mail_server, monkeypatch):  # noqa: F811
    ca, port, inbox = mail_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.ca_file))  # the notifier trusts the test CA
    service = start_notifier(database_url, nats_url, clock)
    try:
        with service.client() as admin:
            channel = admin.post("/v1/channels", json={
                "name": "ops-mail", "kind": "email",
                "url": f"smtp://localhost:{port}/?from=alerts@example.com&to=ops@example.com"})
            assert channel.status_code == 201, channel.text
            policy_made = admin.post("/v1/policies", json={
                "name": "mail", "severities": ["P0"], "notify": [channel.json()["id"]],
                "escalate_after_seconds": 3600, "escalate_to": []})
            assert policy_made.status_code == 201, policy_made.text
        incident = incident_opened(clock)

        publish(nats_url, incident)

        [(to, raw)] = wait_until(lambda: list(inbox), WAIT, "the mail to arrive")
        delivered = wait_until(lambda: delivery_with(service, incident.incident_id,
                                                     "incident.opened", status="delivered"),
                               WAIT, "the delivery to show as delivered")
    finally:
        service.stop()
    mail = message_from_bytes(raw, policy=policy.default)
    assert to == ["ops@example.com"] and mail.get_content_type() == "multipart/alternative"
    assert incident.ref in mail["Subject"] and incident.title in mail["Subject"]
    assert incident.title in mail.get_body(("plain",)).get_content()
    assert html.escape(incident.title) in mail.get_body(("html",)).get_content()
    assert mail["X-Closedloop-Delivery"] == delivered["id"]
    assert delivered["last_status_code"] == 250


class SmsGateway(Receiver):
    """An SMSEagle gateway on loopback: records each text and answers as SMSEagle does."""

    def __init__(self) -> None:
        super().__init__()
        self.server.RequestHandlerClass.answer = (  # type: ignore[attr-defined]
            b'{"result": {"message_id": "1", "status": "ok"}}')


@pytest.fixture
def gateway():
    server = SmsGateway()
    yield server
    server.close()


def test_a_persons_sms_over_the_limit_are_held_back_then_folded_into_one(
        database_url, nats_url, clock, gateway):  # noqa: F811
    """Four P0s in a minute for one on-call person with sms=2/15m: two texts now, the other
    two held back; 15 minutes later one text tells the third and carries the fourth."""
    receiver = gateway
    service = start_notifier(database_url, nats_url, clock, contact_limits="sms=2/15m")
    url = receiver.url("/").rstrip("/").replace("http://", "smseagle://t0ken@")
    try:
        with service.client(MANAGER_KEY) as manager:
            made = manager.post("/v1/channels", json={"name": "pager-sms", "kind": "sms",
                                                      "url": f"{url}/"})
            assert made.status_code == 201, made.text
            assert manager.post("/v1/people", json={
                "handle": "wu.qi", "name": "吴琦", "time_zone": "Asia/Shanghai",
                "contacts": [{"medium": "sms", "address": "+8613800000000",
                              "channel": "pager-sms"}]}).status_code == 201
            policy_made = manager.post("/v1/policies", json={
                "name": "page-wu", "severities": ["P0"], "steps": [
                    {"targets": [{"kind": "person", "ref": "wu.qi"}], "delay_seconds": 86400}]})
            assert policy_made.status_code == 201, policy_made.text
        incidents = [incident_opened(clock) for _ in range(4)]
        for incident in incidents:
            publish(nats_url, incident)
            clock.advance(10)

        def statuses() -> list[tuple[str, str | None]]:
            found = [deliveries(service, i.incident_id) for i in incidents]
            return [(d[0]["status"], d[0]["last_error_class"]) if d else ("-", None)
                    for d in found]

        wait_until(lambda: sorted(statuses()) == [("delivered", None)] * 2
                   + [("retrying", "throttled")] * 2, WAIT, "two sent, two held back")
        assert len(receiver.requests) == 2
        clock.advance(15 * 60)
        wait_until(lambda: sorted(s for s, _ in statuses()) == ["delivered"] * 3 + ["folded"],
                   WAIT, "the held-back ones sent as one")
        [folded] = [i for i, (s, _) in zip(incidents, statuses()) if s == "folded"]
        [record] = deliveries(service, folded.incident_id)
        with service.client(VIEWER_KEY) as viewer:
            history = viewer.get(f"/v1/deliveries/{record['id']}").json()["history"]
    finally:
        service.stop()
    assert len(receiver.requests) == 3  # four messages, three texts
    text = json.dumps(json.loads(receiver.requests[2]["body"]), ensure_ascii=False)
    assert "+8613800000000" in text and "另有 1 条消息" in text and folded.ref in text
    assert [h["outcome"] for h in history] == ["throttled", "folded"]
