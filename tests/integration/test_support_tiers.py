"""Support tiers end to end (seed 003, a technical-support desk). A customer phones in a
complaint: 孙浩 declares it by hand. The desk routes it (no type: the default L1 group) to
the 一线 team, whose on-call person becomes Responsible; nobody finishes in L1's 30
minutes, so it escalates to 二线 on time; 二线 hands it to 研发 with the handover package,
which reaches R&D in the message; R&D resolves it and the requester scores the help through
the signed link sent to him: once, and only 1–5. Real NATS and PostgreSQL, both services on
one ManualClock moved forward; a local webhook receiver stands for the chat gateway."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from tests.harness import API_KEYS, MANAGER_KEY, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_notifier_raci import store_network, told
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, receiver, start_notifier,
)

pytestmark = pytest.mark.integration

KEY = "support-tier-link-key-of-the-integration-test-0123"
DESK = {
    "tiers": [{"name": "L1", "time_box_seconds": 1800}, {"name": "L2", "time_box_seconds": 7200},
              {"name": "R&D"}],
    "groups": {"desk-l1": {"tier": "L1", "team": "一线", "escalates_to": "desk-l2"},
               "desk-l2": {"tier": "L2", "team": "二线", "escalates_to": "rnd"},
               "rnd": {"tier": "R&D", "team": "研发"}},
    "types": {"pos_payment": "desk-l1"},
    "default_group": "desk-l1",
}
PACKAGE = {"logs": ["https://logs.example.cn/pos/store-017/2026-11-04"],
           "reproduction": "任意商品扫码支付（微信），小票不打印",
           "impact": "深圳宝安店 3 台收银机，约 40 单/小时需手工补票"}


@pytest.fixture
def services(database_url, nats_url, clock):
    incidents = RunningService(incidents_app(IncidentsSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, ack_link_key=KEY),
        clock=clock)).start()
    notifier = start_notifier(database_url, nats_url, clock, ack_link_key=KEY,
                              public_url=incidents.url)
    yield incidents, notifier
    notifier.stop()
    incidents.stop()


def support_staff(notifier, receiver) -> None:
    """The requester 孙浩 and the three tiers' teams (一线 li.na, 二线 zhou.min, 研发 zhao.lei)."""
    store_network(notifier, receiver)
    with notifier.client(MANAGER_KEY) as manager:
        added = manager.post("/v1/people", json={"handle": "sun.hao", "name": "孙浩", "contacts": [
            {"medium": "chat", "address": "@sun.hao", "channel": "im-gateway"}]})
        assert added.status_code == 201, added.text
        for team, members in (("一线", ["li.na"]), ("二线", ["zhou.min"]), ("研发", ["zhao.lei"])):
            formed = manager.post("/v1/teams", json={"name": team, "members": members})
            assert formed.status_code == 201, formed.text


def support_desk(notifier, receiver) -> None:
    support_staff(notifier, receiver)
    with notifier.client(MANAGER_KEY) as manager:
        bad = manager.put("/v1/support", json={**DESK, "types": {"pos_payment": "rnd"}})
        assert bad.status_code == 422 and "types.pos_payment" in bad.text
        assert manager.put("/v1/support", json=DESK).status_code == 200


def tier_of(api, ref: str, tier: str) -> dict | None:
    found = api.get(f"/v1/incidents/{ref}").json()
    return found if found["support"]["tier"] == tier else None


def test_a_phoned_in_complaint_climbs_the_tiers_on_time_and_is_scored_by_its_requester(
        services, receiver, clock):
    incidents, notifier = services
    support_desk(notifier, receiver)
    with incidents.client(RESPONDER_KEY) as api:
        declared = api.post("/v1/incidents", json={
            "severity": "P2", "title": "扫码支付后小票不打印", "entity": "store-017",
            "summary": "顾客来电投诉：付款成功但没有小票", "reporter": "sun.hao"})
        assert declared.status_code == 201, declared.text
        iid, ref = declared.json()["id"], declared.json()["ref"]

        # Routed to L1: its on-call person is Responsible and told.
        l1 = wait_until(lambda: tier_of(api, ref, "L1"), WAIT, "routed to L1")
        assert l1["raci"]["responsible"] == ["li.na"] and l1["support"]["next_tier"] == "L2"
        wait_until(lambda: told(receiver, iid, "support.tier"), WAIT, "the L1 message")
        assert told(receiver, iid, "support.tier") == [("support.tier", "li.na")]

        # A hand-over needs the whole package: refused naming the missing part, nothing kept.
        bad = api.post(f"/v1/incidents/{ref}/handover", json={
            "by": "li.na", "package": {**PACKAGE, "reproduction": " "}})
        assert bad.status_code == 422 and "package.reproduction" in bad.text
        assert api.get(f"/v1/incidents/{ref}").json()["support"]["handovers"] == 0

        # L1's 30 minutes run out: warned at 80 %, then L2 takes over on time.
        clock.advance(timedelta(minutes=24, seconds=1))
        wait_until(lambda: told(receiver, iid, "late.tier.warning"), WAIT, "L1 warned")
        clock.advance(timedelta(minutes=6))
        l2 = wait_until(lambda: tier_of(api, ref, "L2"), WAIT, "escalated to L2")
        assert l2["raci"]["responsible"] == ["zhou.min"]
        assert any(e["action"] == "support tier" and e["detail"].startswith(
            "escalated on time to L2") for e in l2["timeline"])
        wait_until(lambda: ("support.tier", "zhou.min") in told(receiver, iid), WAIT,
                   "the L2 message")

        # L2 hands it to R&D with the package; R&D's message carries it.
        handed = api.post(f"/v1/incidents/{ref}/handover", json={
            "by": "zhou.min", "package": PACKAGE, "note": "重启打印服务无效"})
        assert handed.status_code == 200, handed.text
        rnd = wait_until(lambda: tier_of(api, ref, "R&D"), WAIT, "handed over to R&D")
        assert rnd["raci"]["responsible"] == ["zhao.lei"] and rnd["support"]["next_tier"] is None
        assert any(e["action"] == "handed over" and PACKAGE["impact"] in e["detail"]
                   for e in rnd["timeline"])
        [to_rnd] = wait_until(lambda: [json.loads(r["body"]) for r in
                                       receiver.received("/im", iid)
                                       if json.loads(r["body"])["reason"] == "support.tier"
                                       and json.loads(r["body"])["about"]["tier"] == "R&D"],
                              WAIT, "the R&D message")
        assert to_rnd["recipient"]["handle"] == "zhao.lei"
        assert to_rnd["about"]["package"]["reproduction"] == PACKAGE["reproduction"]
        last = api.post(f"/v1/incidents/{ref}/handover", json={"by": "zhao.lei",
                                                               "package": PACKAGE})
        assert last.status_code == 409 and "last support tier" in last.text

        # Resolved: the requester gets a scoring link (and no other kind of link works).
        resolved = api.post(f"/v1/incidents/{ref}/resolve",
                            json={"by": "zhao.lei", "summary": "打印驱动回滚"})
        assert resolved.status_code == 200, resolved.text
        [survey] = wait_until(lambda: [json.loads(r["body"]) for r in
                                       receiver.received("/im", iid)
                                       if json.loads(r["body"])["reason"] == "support.score"],
                              WAIT, "the satisfaction link")
        assert survey["recipient"]["handle"] == "sun.hao"
        # The tiers' messages are what their people get: no second "you are now Responsible"
        # (the assignments went through the notifier before the resolution did).
        assert told(receiver, iid, "raci.assigned") == []
        link = survey["ack_url"]
        assert link.startswith(f"{incidents.url}/v1/score/")
        token = link.rsplit("/", 1)[1]

    with incidents.client() as anyone:  # the link is the credential
        shown = anyone.get(f"/v1/score/{token}")
        assert shown.status_code == 200 and shown.json()["person"] == "sun.hao"
        assert anyone.get(f"/v1/ack/{token}").status_code == 403  # not an acknowledge link
        assert anyone.post(f"/v1/score/{token}", json={"score": 6}).status_code == 422
        scored = anyone.post(f"/v1/score/{token}", json={"score": 4, "comment": "处理及时"})
        assert scored.status_code == 200, scored.text
        again = anyone.post(f"/v1/score/{token}", json={"score": 1})
        assert again.status_code == 409 and again.json()["reason"] == "used"
    with incidents.client(RESPONDER_KEY) as api:
        final = api.get(f"/v1/incidents/{ref}").json()
        assert final["support"]["score"]["score"] == 4
        # (the notifier's delivery records join the timeline in their own time: not last)
        assert "sun.hao (the requester) scored the help 4/5: 处理及时" in [
            e["detail"] for e in final["timeline"]]
