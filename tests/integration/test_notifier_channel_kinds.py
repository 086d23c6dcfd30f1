"""Channel kinds through the running notifier (real NATS and PostgreSQL): a bad kind or URL
is refused with a 4xx naming the field, tokens never come back out of the API, and an
incident opened reaches a real SMTP server as text and HTML."""
from __future__ import annotations

import html
import socket
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from tests.harness import VIEWER_KEY, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, delivery_with, incident_opened, notifier, publish, start_notifier,
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
