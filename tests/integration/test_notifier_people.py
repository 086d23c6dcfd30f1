"""Who is told, found from the organisation: a P0 on 深圳宝安店 pages the 店长, the 战区运营
and 总部's channel at once, and the 战区负责人 after 15 silent minutes. Real NATS and
PostgreSQL; the clock is a ManualClock."""
from __future__ import annotations

import json

import pytest

from tests.harness import MANAGER_KEY, VIEWER_KEY, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    SECRET, WAIT, clock, escalation, incident_opened, notifier, publish, receiver,
)

pytestmark = pytest.mark.integration


def person(handle: str, name: str) -> dict:
    return {"handle": handle, "name": name, "time_zone": "Asia/Shanghai",
            "contacts": [{"medium": "chat", "address": f"@{handle}", "channel": "im-gateway"}]}


def told(receiver, incident_id: str) -> list[tuple[str, str, str]]:
    bodies = [json.loads(r["body"]) for r in receiver.requests
              if json.loads(r["body"])["incident"]["incident_id"] == incident_id]
    return sorted((b["reason"], (b.get("recipient") or {}).get("handle", "-"),
                   (b.get("recipient") or {}).get("address", "-")) for b in bodies)


def test_a_p0_on_a_store_pages_the_store_and_region_then_the_region_head(
        notifier, nats_url, clock, receiver):
    with notifier.client(MANAGER_KEY) as manager:
        gateway = manager.post("/v1/channels", json={
            "name": "im-gateway", "url": receiver.url("/im"), "secret": SECRET})
        hq = manager.post("/v1/channels", json={
            "name": "hq-room", "url": receiver.url("/hq"), "secret": SECRET})
        assert gateway.status_code == 201 and hq.status_code == 201, (gateway.text, hq.text)
        for handle, name in (("li.na", "李娜"), ("zhou.min", "周敏"), ("zhao.lei", "赵磊"),
                             ("ma.chao", "马超")):
            assert manager.post("/v1/people", json=person(handle, name)).status_code == 201
        for unit in ({"key": "hq", "name": "总部"},
                     {"key": "south", "name": "华南战区", "parent": "hq",
                      "roles": {"战区负责人": ["zhao.lei"], "战区运营": ["zhou.min"]}},
                     {"key": "store-017", "name": "深圳宝安店", "parent": "south",
                      "roles": {"店长": ["li.na"]}, "entities": ["checkout-api"]}):
            created = manager.post("/v1/units", json=unit)
            assert created.status_code == 201, created.text
        policy = manager.post("/v1/policies", json={
            "name": "store-red", "severities": ["P0"], "steps": [
                {"targets": [{"kind": "role", "ref": "店长"}, {"kind": "role", "ref": "战区运营"},
                             {"kind": "channel", "ref": hq.json()["id"]},
                             {"kind": "person", "ref": "ma.chao"}], "delay_seconds": 900},
                {"targets": [{"kind": "role", "ref": "战区负责人"}], "delay_seconds": 900}]})
        assert policy.status_code == 201, policy.text
        # ma.chao leaves: the policy keeps naming him, but nobody may add him anew.
        assert manager.patch("/v1/people/ma.chao", json={"left": True}).status_code == 200
        refused = manager.post("/v1/policies", json={
            "name": "store-red-2", "severities": ["P1"], "steps": [
                {"targets": [{"kind": "person", "ref": "ma.chao"}], "delay_seconds": 900}]})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "steps[0].targets[0].ref"
        assert "ma.chao has left" in refused.text

    incident = incident_opened(clock)  # entity checkout-api: the store's till system
    publish(nats_url, incident)
    wait_until(lambda: len(told(receiver, incident.incident_id)) == 3, WAIT, "step 0")
    assert told(receiver, incident.incident_id) == [
        ("incident.opened", "-", "-"),  # 总部's room
        ("incident.opened", "li.na", "@li.na"), ("incident.opened", "zhou.min", "@zhou.min")]

    wait_until(lambda: escalation(notifier, incident.incident_id), WAIT, "the ladder")
    clock.advance(899)
    clock.advance(1)
    wait_until(lambda: len(told(receiver, incident.incident_id)) == 4, WAIT, "step 1")
    assert ("escalation.step1", "zhao.lei", "@zhao.lei") in told(receiver, incident.incident_id)

    with notifier.client(VIEWER_KEY) as viewer:
        def explained() -> set[tuple[str, str]]:
            items = viewer.get("/v1/deliveries",
                               params={"incident_id": incident.incident_id}).json()["items"]
            return {(d["person"], d["target"]) for d in items}
        why = wait_until(lambda: len(explained()) == 4 and explained(), WAIT,
                         "every delivery explained")
    assert ("zhao.lei", "role:战区负责人") in why and ("li.na", "role:店长") in why
    assert not any(p == "ma.chao" for p, _ in why)  # left: not told
