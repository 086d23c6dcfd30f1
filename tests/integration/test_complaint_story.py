"""A phoned-in complaint end to end, on real NATS and PostgreSQL with one ManualClock moved
forward: 孙浩 phones in a complaint; the agent types it without choosing a type, the rules
classify it as a complaint, which the desk sends to L1 (unclassified incidents are not routed
at all); L1's 30 minutes run out and L2 takes over on time and takes it on; L2's two hours
run out and R&D takes over on time (told that no handover package was filed: hand-overs
with their package are tests/integration/test_support_tiers.py); R&D waits two hours for the
requester's logs (the SLA clock stops and the running deadline moves on by the wait); R&D
resolves it and the requester scores the help through his link."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.harness import MANAGER_KEY, RESPONDER_KEY, wait_until
from tests.integration.test_notifier_raci import told
from tests.integration.test_notifier_service import WAIT, clock, receiver  # noqa: F401 (fixtures)
from tests.integration.test_support_tiers import (  # noqa: F401 (fixtures)
    DESK, services, support_staff, tier_of,
)

pytestmark = pytest.mark.integration

COMPLAINT_DESK = {**DESK, "types": {"complaint": "desk-l1"}}
del COMPLAINT_DESK["default_group"]  # only a classified complaint reaches the desk
CALL = {"title": "扫码支付后小票不打印", "entity": "store-017", "reporter": "sun.hao",
        "source": "phone", "description": "顾客来电投诉：扫码付款成功但收银机不出小票，要求退款"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def messages(inbox, iid: str, reason: str) -> list[dict]:
    return [body for r in inbox.received("/im", iid)
            if (body := json.loads(r["body"]))["reason"] == reason]


def test_a_phoned_in_complaint_is_classified_climbs_the_tiers_waits_for_its_requester_and_is_scored(
        services, receiver, clock):
    incidents, notifier = services
    support_staff(notifier, receiver)
    with notifier.client(MANAGER_KEY) as manager:
        assert manager.put("/v1/support", json=COMPLAINT_DESK).status_code == 200

    with incidents.client(RESPONDER_KEY) as api:
        # No type, no severity given: the rules propose both and the incident takes them.
        opened = api.post("/v1/incidents", json=CALL)
        assert opened.status_code == 201, opened.text
        incident = opened.json()
        iid, ref = incident["id"], incident["ref"]
        intake = incident["intake"]
        assert (intake["source"], intake["problem_type"]) == ("phone", "complaint")
        assert intake["proposal"]["method"] == "rules" and intake["corrected"] == []
        assert incident["severity"] == "P2"  # complaint's usual severity

        # The complaint type routes it to L1, whose on-call person is Responsible and told.
        l1 = wait_until(lambda: tier_of(api, ref, "L1"), WAIT, "routed to L1")
        assert l1["raci"]["responsible"] == ["li.na"]
        assert any(e["detail"].startswith("routed to L1 (desk-l1, team 一线)")
                   for e in l1["timeline"])
        wait_until(lambda: told(receiver, iid, "support.tier"), WAIT, "the L1 message")
        assert told(receiver, iid, "support.tier") == [("support.tier", "li.na")]

        # L1's 30 minutes run out: L2 takes over on time and is told.
        clock.advance(timedelta(minutes=30, seconds=1))
        l2 = wait_until(lambda: tier_of(api, ref, "L2"), WAIT, "escalated to L2")
        assert l2["raci"]["responsible"] == ["zhou.min"]
        assert any(e["action"] == "support tier" and e["detail"].startswith(
            "escalated on time to L2") for e in l2["timeline"])
        wait_until(lambda: ("support.tier", "zhou.min") in told(receiver, iid), WAIT,
                   "the L2 message")

        # L2 takes it on: the response is met (P2 on the shipped 24×7 defaults: respond in
        # 1 h, resolve in 72 h from the opening).
        taken = api.post(f"/v1/incidents/{ref}/acknowledge", json={"by": "zhou.min"})
        assert taken.status_code == 200, taken.text

        # L2's two hours run out too: R&D takes over on time, told no package was filed.
        clock.advance(timedelta(hours=2))
        rnd = wait_until(lambda: tier_of(api, ref, "R&D"), WAIT, "escalated to R&D")
        assert rnd["raci"]["responsible"] == ["zhao.lei"] and rnd["support"]["next_tier"] is None
        assert any(e["action"] == "support tier" and e["detail"].startswith(
            "escalated on time to R&D") for e in rnd["timeline"])
        [to_rnd] = wait_until(lambda: [m for m in messages(receiver, iid, "support.tier")
                                       if m["about"]["tier"] == "R&D"], WAIT, "the R&D message")
        assert to_rnd["recipient"]["handle"] == "zhao.lei"
        assert (to_rnd["about"]["why"], to_rnd["about"]["package"]) == ("time box", None)
        assert rnd["support"]["handovers"] == 0

        # R&D asks the requester for the printer's logs: the SLA clock stops.
        assert at(rnd["resolve_by"]) == at(incident["resolve_by"])
        paused = api.post(f"/v1/incidents/{ref}/await-requester",
                          json={"reason": "请提供打印机日志", "by": "zhao.lei"})
        assert paused.status_code == 200, paused.text
        assert paused.json()["paused_since"] is not None
        assert paused.json()["timeline"][-1]["action"] == "awaiting requester"
        # Two hours pass: nothing is missed while waiting.
        clock.advance(timedelta(hours=2))
        answered = api.post(f"/v1/incidents/{ref}/requester-answered", json={"by": "zhao.lei"})
        assert answered.status_code == 200, answered.text
        resumed = answered.json()
        assert resumed["paused_since"] is None and resumed["sla_breaches"] == []
        # The running deadline moves on by exactly the wait; the met one stays as it was.
        assert at(resumed["resolve_by"]) == at(incident["resolve_by"]) + timedelta(hours=2)
        assert at(resumed["respond_by"]) == at(incident["respond_by"])
        assert resumed["timeline"][-1]["action"] == "requester answered"
        assert resumed["support"]["tier"] == "R&D"  # the wait keeps the tier and the stage

        # Resolved: the requester gets his scoring link.
        resolved = api.post(f"/v1/incidents/{ref}/resolve",
                            json={"by": "zhao.lei", "summary": "打印驱动回滚"})
        assert resolved.status_code == 200, resolved.text
        [survey] = wait_until(lambda: messages(receiver, iid, "support.score"), WAIT,
                              "the satisfaction link")
        assert survey["recipient"]["handle"] == "sun.hao"
        token = survey["ack_url"].rsplit("/", 1)[1]

    with incidents.client() as anyone:  # the link is the credential
        scored = anyone.post(f"/v1/score/{token}", json={"score": 5, "comment": "等待期间没催我"})
        assert scored.status_code == 200, scored.text
    with incidents.client(RESPONDER_KEY) as api:
        final = api.get(f"/v1/incidents/{ref}").json()
        assert final["support"]["score"]["score"] == 5 and final["sla_breaches"] == []
        actions = [e["action"] for e in final["timeline"]]
        assert actions.index("awaiting requester") < actions.index("requester answered")
        # (the notifier's delivery records join the timeline in their own time: not last)
        assert "sun.hao (the requester) scored the help 5/5: 等待期间没催我" in [
            e["detail"] for e in final["timeline"]]
