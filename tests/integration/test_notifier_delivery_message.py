"""What each reader got, shown again: a P0 pages 李娜 (Chinese) and Anna (English) on a chat
gateway and tells the ops room's webhook; GET /v1/deliveries/{id}/message renders each
delivery as its channel does, in its reader's language and time zone, as of the attempt (a
deadline's time left is the one the page said), with the incident's link and the one-click
link's place but never its token. Real NATS and PostgreSQL; time is a ManualClock."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.harness import MANAGER_KEY, VIEWER_KEY, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    SECRET, WAIT, clock, deliveries, incident_opened, publish, receiver, start_notifier,
)

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://closedloop.stores.example.cn"


@pytest.fixture
def notifier(database_url, nats_url, clock):
    service = start_notifier(database_url, nats_url, clock, public_url=PUBLIC_URL,
                             ack_link_key="delivery-message-test-key-0123456789abcdef")
    yield service
    service.stop()


def test_each_delivery_shows_the_message_its_reader_got(notifier, nats_url, clock, receiver):
    with notifier.client(MANAGER_KEY) as manager:
        assert manager.post("/v1/channels", json={
            "name": "im-gateway", "url": receiver.url("/im"), "secret": SECRET}
        ).status_code == 201
        room = manager.post("/v1/channels", json={
            "name": "ops-room", "url": receiver.url("/room"), "secret": SECRET}).json()
        for handle, name, language, zone in (("li.na", "李娜", "zh", "Asia/Shanghai"),
                                             ("anna", "Anna", "en", "Europe/Berlin")):
            added = manager.post("/v1/people", json={
                "handle": handle, "name": name, "language": language, "time_zone": zone,
                "contacts": [{"medium": "chat", "address": f"@{handle}",
                              "channel": "im-gateway"}]})
            assert added.status_code == 201, added.text
        assert manager.post("/v1/policies", json={
            "name": "critical", "severities": ["P0"], "steps": [{"targets": [
                {"kind": "person", "ref": "li.na"}, {"kind": "person", "ref": "anna"},
                {"kind": "channel", "ref": room["id"]}], "delay_seconds": 900}]}
        ).status_code == 201

    opened = incident_opened(clock)
    publish(nats_url, opened)
    sent = wait_until(lambda: (found := [d for d in deliveries(notifier, opened.incident_id)
                                         if d["status"] == "delivered"])
                      and len(found) == 3 and found, WAIT, "the three messages delivered")
    clock.advance(600)  # asked later, a message still says what it said when sent
    by_person = {d["person"]: d for d in sent}
    with notifier.client(VIEWER_KEY) as viewer:
        def message(delivery: dict, **params) -> dict:
            response = viewer.get(f"/v1/deliveries/{delivery['id']}/message", params=params)
            assert response.status_code == 200, response.text
            return response.json()

        li_na, anna, room_message = (message(by_person["li.na"]), message(by_person["anna"]),
                                     message(by_person[None]))
        medium = viewer.get(f"/v1/deliveries/{by_person['anna']['id']}/message",
                            params={"medium": "fax"})
        missing = viewer.get(f"/v1/deliveries/{uuid.uuid4()}/message")
        sms = message(by_person["li.na"], medium="sms")

    incident_link = f"{PUBLIC_URL}/v1/incidents/{opened.ref}"
    # 李娜: Chinese, Shanghai time, the deadline as it stood when the page went out.
    assert (li_na["medium"], li_na["language"], li_na["person"]) == ("chat", "zh", "li.na")
    assert li_na["subject"].startswith("🔴 严重 P0 | 新事件")
    assert li_na["template"] == "zh/incident.opened.chat.j2"
    assert opened.ref in li_na["text"] and "剩余 15分钟" in li_na["text"]
    assert "CST" in li_na["text"]
    assert f"查看事件：{incident_link}" in li_na["text"]
    assert f"[查看事件]({incident_link})" in li_na["markdown"]
    assert f"一键确认：{PUBLIC_URL}/v1/ack/<one-time-token>" in li_na["text"]
    # Anna: English, Berlin time.
    assert anna["subject"].startswith("🔴 Critical P0") and "CET" in anna["text"]
    assert anna["rendered_for"] == li_na["rendered_for"]
    # The token the page carried is a credential: it is never shown again.
    real = [json.loads(r["body"])["ack_url"] for r in receiver.received("/im")]
    assert len(real) == 2 and all(url.startswith(f"{PUBLIC_URL}/v1/ack/") for url in real)
    assert not any(url in json.dumps([li_na, anna, sms]) for url in real)
    # The room's webhook reads as chat; a message to a channel asks nobody to acknowledge.
    assert room_message["person"] is None and room_message["medium"] == "chat"
    assert incident_link in room_message["text"] and "/v1/ack/" not in room_message["text"]
    # Another form on request: one short line for SMS.
    assert sms["medium"] == "sms" and "\n" not in sms["text"] and opened.ref in sms["text"]
    assert medium.status_code == 422 and missing.status_code == 404
