"""One-click acknowledge, end to end over real HTTP, NATS and PostgreSQL: a P2 pages 李娜,
周敏 and 赵磊; each webhook carries a link signed for that person. 李娜 opens hers (the page shows
what and as whom, and changes nothing), clicks, and the incident is acknowledged as her with
the read on its timeline; her link then refuses a second use. 周敏's link, opened after
someone acknowledged, records her read only. 赵磊's, once expired on the shared ManualClock,
or altered, is refused and the incident does not change."""
from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import pytest

from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from shared.contracts import AlertRaised
from tests.harness import API_KEYS, MANAGER_KEY, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    SECRET, WAIT, clock, publish, receiver, start_notifier,
)

pytestmark = pytest.mark.integration

KEY = "ack-link-key-of-the-integration-test-0123456789"
HTML = {"Accept": "text/html,application/xhtml+xml"}
PEOPLE = {"li.na": "李娜", "zhou.min": "周敏", "zhao.lei": "赵磊"}


@pytest.fixture
def services(database_url, nats_url, clock):
    incidents = RunningService(incidents_app(IncidentsSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, ack_link_key=KEY),
        clock=clock)).start()
    # Links point at the incidents service: no gateway in front of it here.
    notifier = start_notifier(database_url, nats_url, clock, ack_link_key=KEY,
                              public_url=incidents.url, ack_link_hours=1)
    yield incidents, notifier
    notifier.stop()
    incidents.stop()


def page_people(notifier, receiver) -> None:
    with notifier.client(MANAGER_KEY) as manager:
        gateway = manager.post("/v1/channels", json={
            "name": "im-gateway", "url": receiver.url("/im"), "secret": SECRET})
        assert gateway.status_code == 201, gateway.text
        for handle, name in PEOPLE.items():
            added = manager.post("/v1/people", json={"handle": handle, "name": name, "contacts": [
                {"medium": "chat", "address": f"@{handle}", "channel": "im-gateway"}]})
            assert added.status_code == 201, added.text
        policy = manager.post("/v1/policies", json={"name": "stores", "severities": ["P2"],
                                                   "steps": [{"targets": [
                                                       {"kind": "person", "ref": handle}
                                                       for handle in PEOPLE],
                                                       "delay_seconds": 900}]})
        assert policy.status_code == 201, policy.text


def links(receiver, incident_id: str) -> dict[str, str]:
    bodies = [json.loads(r["body"]) for r in receiver.received("/im", incident_id)]
    return {b["recipient"]["handle"]: b["ack_url"] for b in bodies if b.get("ack_url")}


def test_a_page_acknowledges_as_its_person_once_and_a_late_or_altered_link_changes_nothing(
        services, receiver, nats_url, clock):
    incidents, notifier = services
    page_people(notifier, receiver)
    publish(nats_url, AlertRaised(
        alert_id=f"alert-{uuid.uuid4().hex[:8]}", fingerprint=f"fp-{uuid.uuid4().hex[:8]}",
        source="rule", name="收银延迟", entity="store-017", severity="P2",
        started_at=clock.now()))
    with incidents.client(VIEWER_KEY) as viewer:
        [incident] = wait_until(lambda: viewer.get("/v1/incidents").json()["items"], WAIT,
                                "the incident")
        ref = incident["ref"]

        def story() -> list[dict]:
            return viewer.get(f"/v1/incidents/{ref}/timeline").json()

        sent = wait_until(lambda: len(links(receiver, incident["id"])) == 3
                          and links(receiver, incident["id"]), WAIT, "the pages, with links")
        assert all(url.startswith(f"{incidents.url}/v1/ack/") for url in sent.values())
        assert len(set(sent.values())) == 3

        # The three deliveries are on the timeline (the notifier's facts arrive on their own).
        wait_until(lambda: sum(e["action"] == "notification delivered" for e in story()) == 3,
                   WAIT, "the deliveries recorded")
        with httpx.Client(timeout=10) as browser:  # no API key: the link is the credential
            # Opening it shows what and as whom, and changes nothing (previews open links).
            before = story()
            shown = browser.get(sent["li.na"], headers=HTML)
            assert shown.status_code == 200, shown.text
            assert shown.headers["content-type"].startswith("text/html")
            assert ref in shown.text and "Acknowledge as li.na" in shown.text
            assert '<form method="post">' in shown.text
            assert shown.headers["referrer-policy"] == "no-referrer"
            assert shown.headers["cache-control"] == "no-store"
            assert story() == before

            clock.advance(120)
            clicked = browser.post(sent["li.na"], headers=HTML)
            assert clicked.status_code == 200, clicked.text
            assert f"You (li.na) acknowledged {ref}" in clicked.text
            acknowledged = viewer.get(f"/v1/incidents/{ref}").json()
            assert acknowledged["acknowledged_by"] == "li.na"
            assert acknowledged["status"] == "investigating"
            assert acknowledged["raci"]["responsible"] == ["li.na"]
            actions = [e["action"] for e in story()]
            assert actions[len(before):] == ["page read", "acknowledged", "role assigned"]
            [read] = [e for e in story() if e["action"] == "page read"]
            assert read["actor"] == "li.na" and "acknowledging it with one click" in read["detail"]

            # A second click, in a browser or not, is refused and records nothing.
            after = story()
            again = browser.post(sent["li.na"])
            assert again.status_code == 409, again.text
            assert again.json()["reason"] == "used" and "already used" in again.json()["detail"]
            assert browser.get(sent["li.na"], headers=HTML).status_code == 409
            assert story() == after

            # 周敏 opens hers after 李娜 acknowledged: her read is recorded, nothing else.
            hers = browser.get(sent["zhou.min"]).json()
            assert hers["person"] == "zhou.min"
            assert hers["incident"]["acknowledged_by"] == "li.na"
            read = browser.post(sent["zhou.min"])
            assert read.status_code == 200, read.text
            assert read.json()["acknowledged"] is False
            assert [e["action"] for e in story()][len(after):] == ["page read"]
            assert "li.na had acknowledged it already" in story()[-1]["detail"]
            assert viewer.get(f"/v1/incidents/{ref}").json()["acknowledged_by"] == "li.na"

            # 赵磊's link expires on the service's clock (the notifier minted it for an hour),
            # and an altered one is forged; neither changes the incident.
            late, settled = sent["zhao.lei"], story()
            clock.advance(timedelta(hours=1))
            expired = browser.post(late, headers=HTML)
            assert expired.status_code == 410 and "expired at" in expired.text
            altered = late[:-1] + ("A" if late[-1] != "A" else "B")
            assert browser.post(altered).json()["reason"] == "forged"
            assert browser.post(altered).status_code == 403
            assert browser.get(f"{incidents.url}/v1/ack/not-a-link").status_code == 400
            assert story() == settled
    assert notifier.runtime.failing() == {}

