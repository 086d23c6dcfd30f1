"""Lifecycle messages end to end. A shop assistant's manager reports a P2 on 深圳宝安店 by
hand; the regional director follows it. As the incident is raised to P0, updated,
acknowledged, resolved, reopened and closed, its R/A (the store manager), its reporter and
its follower are told, each once and never for what they did themselves; the raise
re-staffs it from the P0 row (the new Responsible and Accountable told so, and told of all
that follows), and the raise and the reopening page the P0 ladder's first step and start
its escalation over. Real NATS and
PostgreSQL, both services on one ManualClock; a local webhook receiver records who got
which reason."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from shared.contracts import CapaClosed
from tests.harness import API_KEYS, MANAGER_KEY, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_notifier_raci import deadline, store_network, told
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, escalation, notifier, publish, receiver, setup_routing,
)

pytestmark = pytest.mark.integration


def reasons(receiver, path: str, incident_id: str) -> list[str]:
    return sorted(json.loads(r["body"])["reason"] for r in receiver.received(path, incident_id))


def test_those_who_should_know_hear_of_each_step_of_the_incidents_life(
        notifier, receiver, database_url, nats_url, clock):
    incidents = RunningService(incidents_app(IncidentsSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS), clock=clock)).start()
    try:
        store_network(notifier, receiver)  # P2: li.na (店长) is R and A
        setup_routing(notifier, receiver, severities=("P0",), escalate_after=60)
        with notifier.client(MANAGER_KEY) as manager:
            assert manager.post("/v1/people", json={
                "handle": "sun.hao", "name": "孙浩", "contacts": [
                    {"medium": "chat", "address": "@sun.hao", "channel": "im-gateway"}],
            }).status_code == 201
        with incidents.client(RESPONDER_KEY) as api:
            declared = api.post("/v1/incidents", json={
                "severity": "P2", "title": "收银台卡顿", "entity": "store-017",
                "summary": "三号收银台每笔交易要等一分钟", "reporter": "sun.hao"})
            assert declared.status_code == 201, declared.text
            iid, ref = declared.json()["id"], declared.json()["ref"]
            assert declared.json()["followers"] == ["sun.hao"]
            wait_until(lambda: told(receiver, iid, "incident.opened"), WAIT, "the opening")
            assert told(receiver, iid) == [("incident.opened", "li.na")]
            followed = api.post(f"/v1/incidents/{ref}/follow",
                                json={"person": "wang.jianguo", "by": "wang.jianguo"})
            assert followed.json()["followers"] == ["sun.hao", "wang.jianguo"]

            # Bad input is refused, naming what is wrong.
            bad = api.post(f"/v1/incidents/{ref}/severity",
                           json={"severity": "P5", "reason": "x", "by": "li.na"})
            assert bad.status_code == 422 and "severity" in bad.text
            bad = api.post(f"/v1/incidents/{ref}/reopen", json={"reason": "x", "by": "li.na"})
            assert bad.status_code == 409 and "only a resolved or closed incident" in bad.text
            bad = api.post(f"/v1/incidents/{ref}/progress", json={"text": "", "author": "li.na"})
            assert bad.status_code == 422 and "text" in bad.text

            # Raised to P0 by the store manager: the others hear of it, the P0 ladder pages.
            raised = api.post(f"/v1/incidents/{ref}/severity", json={
                "severity": "P0", "reason": "全店收银瘫痪", "by": "li.na"})
            assert raised.status_code == 200, raised.text
            now = raised.json()
            assert now["severity"] == "P0" and now["ref"] == ref  # the ref is never renumbered
            assert (datetime.fromisoformat(now["respond_by"])
                    - datetime.fromisoformat(now["opened_at"])) == timedelta(minutes=5)
            wait_until(lambda: len(told(receiver, iid, "incident.severity_changed")) == 2,
                       WAIT, "the reporter and the follower told of the raise")
            assert told(receiver, iid, "incident.severity_changed") == [
                ("incident.severity_changed", "sun.hao"),
                ("incident.severity_changed", "wang.jianguo")]
            wait_until(lambda: reasons(receiver, "/oncall", iid), WAIT, "the P0 ladder's step 0")
            assert reasons(receiver, "/oncall", iid) == ["incident.severity_changed"]
            # Re-staffed from the P0 row: 运营专家 joins as Responsible, 战区负责人 is Accountable.
            wait_until(lambda: len(told(receiver, iid, "raci.assigned")) == 2, WAIT,
                       "the new Responsible and Accountable told")
            assert told(receiver, iid, "raci.assigned") == [
                ("raci.assigned.accountable", "zhao.lei"),
                ("raci.assigned.responsible", "zhou.min")]
            # The notifier's respond chase moved to the P0 deadline too.
            wait_until(lambda: (deadline(notifier, iid, "respond") or {}).get("due_at", "")[:16]
                       == now["respond_by"][:16], WAIT, "the respond chase moved")
            wait_until(lambda: (escalation(notifier, iid) or {}).get("status") == "waiting",
                       WAIT, "the P0 ladder's timer")
            clock.advance(timedelta(seconds=61))
            wait_until(lambda: reasons(receiver, "/managers", iid), WAIT, "step 1")
            assert reasons(receiver, "/managers", iid) == ["escalation.step1"]

            posted = api.post(f"/v1/incidents/{ref}/progress", json={
                "text": "已联系收银系统厂商", "author": "li.na"})
            assert posted.status_code == 200
            wait_until(lambda: len(told(receiver, iid, "incident.progress")) == 4, WAIT,
                       "the update")
            assert [h for _, h in told(receiver, iid, "incident.progress")] == [
                "sun.hao", "wang.jianguo", "zhao.lei", "zhou.min"]
            update = next(json.loads(r["body"]) for r in receiver.received("/im", iid)
                          if json.loads(r["body"])["reason"] == "incident.progress")
            next_update = update["about"].pop("next_update_by")  # the P0's cadence: 4 h on
            assert update["about"] == {"by": "li.na", "number": 1, "text": "已联系收银系统厂商"}
            assert datetime.fromisoformat(next_update) == datetime.fromisoformat(
                posted.json()["progress"]["next_update_by"].replace("Z", "+00:00"))

            # zhao.lei, the new Accountable, takes it on: the others hear he did.
            assert api.post(f"/v1/incidents/{ref}/acknowledge",
                            json={"by": "zhao.lei"}).status_code == 200
            wait_until(lambda: len(told(receiver, iid, "incident.acknowledged")) == 4, WAIT,
                       "the acknowledgement")
            assert [h for _, h in told(receiver, iid, "incident.acknowledged")] == [
                "li.na", "sun.hao", "wang.jianguo", "zhou.min"]

            assert api.post(f"/v1/incidents/{ref}/resolve", json={
                "by": "li.na", "summary": "重启了收银服务器"}).status_code == 200
            wait_until(lambda: len(told(receiver, iid, "incident.resolved")) == 4, WAIT,
                       "the resolution")
            assert [h for _, h in told(receiver, iid, "incident.resolved")] == [
                "sun.hao", "wang.jianguo", "zhao.lei", "zhou.min"]

            # The reporter sees it is not fixed: reopened, the ladder starts over.
            reopened = api.post(f"/v1/incidents/{ref}/reopen",
                                json={"reason": "还是卡", "by": "sun.hao"})
            assert reopened.status_code == 200, reopened.text
            assert reopened.json()["status"] == "investigating"
            wait_until(lambda: len(told(receiver, iid, "incident.reopened")) == 4, WAIT,
                       "the reopening")
            assert [h for _, h in told(receiver, iid, "incident.reopened")] == [
                "li.na", "wang.jianguo", "zhao.lei", "zhou.min"]
            wait_until(lambda: "incident.reopened" in reasons(receiver, "/oncall", iid), WAIT,
                       "step 0 paged again")
            wait_until(lambda: (escalation(notifier, iid) or {}).get("status") == "waiting",
                       WAIT, "the ladder armed again")
            clock.advance(timedelta(seconds=61))
            wait_until(lambda: len(reasons(receiver, "/managers", iid)) == 2, WAIT,
                       "step 1 again")
            assert reasons(receiver, "/managers", iid) == ["escalation.step1",
                                                           "escalation.step1.rearm1"]

            # The follower stops following; as the P0's Informed he still hears the next
            # update, once.
            assert api.post(f"/v1/incidents/{ref}/unfollow", json={
                "person": "wang.jianguo", "by": "wang.jianguo"}).status_code == 200
            assert api.post(f"/v1/incidents/{ref}/progress", json={
                "text": "更换了交换机", "author": "li.na"}).status_code == 200
            wait_until(lambda: len(told(receiver, iid, "incident.progress")) == 8, WAIT,
                       "the second update")
            assert [h for _, h in told(receiver, iid, "incident.progress")] == [
                "sun.hao", "sun.hao", "wang.jianguo", "wang.jianguo", "zhao.lei", "zhao.lei",
                "zhou.min", "zhou.min"]

            # The CAPA case closes it: nobody did that in person, everyone is told.
            publish(nats_url, CapaClosed(capa_id="c-1", incident_id=iid, ref=ref,
                                         root_cause="交换机老化", actions=1, at=clock.now()))
            wait_until(lambda: len(told(receiver, iid, "incident.closed")) == 5, WAIT,
                       "the closure")
            assert [h for _, h in told(receiver, iid, "incident.closed")] == [
                "li.na", "sun.hao", "wang.jianguo", "zhao.lei", "zhou.min"]
            timeline = [e["action"] for e in api.get(f"/v1/incidents/{ref}/timeline").json()]
            for action in ("followed", "severity changed", "progress", "reopened",
                           "unfollowed", "closed"):
                assert action in timeline
    finally:
        incidents.stop()
