"""A systemic problem is reported to the accountable manager (上报总部): the notifier tells the
holders one level above the Accountable of the newest linked incident it staffed. Two P0s on
深圳宝安店 (Accountable: 华南战区's 战区负责人) → 总部's 运营总监 hears `capa.systemic`, once,
even when the contract is published again. Real NATS and PostgreSQL."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared.contracts import CapaSystemicProblemClosed, CapaSystemicProblemRaised
from tests.harness import VIEWER_KEY, wait_until
from tests.integration.test_notifier_raci import deadline, store_network, told
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, incident_opened, notifier, publish, receiver,
)

pytestmark = pytest.mark.integration


def test_a_systemic_problem_reaches_the_manager_one_level_above_the_accountable(
        notifier, receiver, nats_url, clock):
    store_network(notifier, receiver)
    first = incident_opened(clock).model_copy(update={"entity": "store-017"})
    publish(nats_url, first)
    clock.advance(timedelta(days=3))
    latest = incident_opened(clock).model_copy(update={"entity": "store-017"})
    publish(nats_url, latest)
    for opened in (first, latest):  # staffed: its deadlines are set
        wait_until(lambda: deadline(notifier, opened.incident_id, "resolve"), WAIT, "staffing")
    raised = CapaSystemicProblemRaised(
        systemic_id="0f3b7c2e-8a41-5d6e-b2c9-4e7a1d3f5b60", signature="rule:收银系统故障",
        rule="收银系统故障", recurrences=2, threshold=2, period_seconds=90 * 86400.0,
        entities=["store-017"], incident_refs=[first.ref, latest.ref],
        capa_ids=["c-1"], summary="'收银系统故障' recurred 2 times in 90 days",
        at=clock.now(), incident_ids=[first.incident_id, latest.incident_id])
    publish(nats_url, raised)
    wait_until(lambda: told(receiver, latest.incident_id, "capa."), WAIT, "the manager told")
    publish(nats_url, raised)  # a second copy of the same problem tells nobody again
    # Another problem after it, on the same stream: once it is told, the copy was handled.
    publish(nats_url, raised.model_copy(update={"systemic_id": "another-systemic-problem"}))
    wait_until(lambda: len(told(receiver, latest.incident_id, "capa.")) == 2, WAIT, "the next")

    assert told(receiver, latest.incident_id, "capa.") == [("capa.systemic", "wang.jianguo")] * 2
    assert told(receiver, first.incident_id, "capa.") == []
    bodies = [json.loads(r["body"]) for r in receiver.received("/im", latest.incident_id)
              if json.loads(r["body"])["reason"] == "capa.systemic"]
    assert sorted(b["about"]["systemic"]["id"] for b in bodies) == [
        raised.systemic_id, "another-systemic-problem"]
    [body] = [b for b in bodies if b["about"]["systemic"]["id"] == raised.systemic_id]
    assert body["about"]["systemic"]["rule"] == "收银系统故障"
    assert body["about"]["systemic"]["incident_refs"] == [first.ref, latest.ref]
    with notifier.client(VIEWER_KEY) as viewer:
        items = wait_until(lambda: [d for d in viewer.get("/v1/deliveries", params={
            "incident_id": latest.incident_id}).json()["items"]
            if d["reason"] == "capa.systemic"], WAIT, "the delivery explained")
    assert len(items) == 2
    assert items[0]["target"] == "up:运营总监@hq" and items[0]["person"] == "wang.jianguo"
    # What he read: the shipped template, in his language.
    with notifier.client(VIEWER_KEY) as viewer:
        mine = next(d for d in items if d["id"] == body["delivery_id"])
        message = viewer.get(f"/v1/deliveries/{mine['id']}/message").json()
    assert message["template"] == "zh/capa.systemic.chat.j2", message
    assert "系统性问题上报" in message["text"]
    assert f"事件：{first.ref}、{latest.ref}" in message["text"], message["text"]


def test_the_accountable_manager_hears_when_the_systemic_problem_closes(
        notifier, receiver, nats_url, clock):
    store_network(notifier, receiver)
    latest = incident_opened(clock).model_copy(update={"entity": "store-017"})
    publish(nats_url, latest)
    wait_until(lambda: deadline(notifier, latest.incident_id, "resolve"), WAIT, "staffing")
    closed = CapaSystemicProblemClosed(
        systemic_id="5d1e2f3a-4b5c-5d6e-8f70-8192a3b4c5d6", signature="rule:收银系统故障",
        rule="收银系统故障", root_cause="收银机固件未统一升级", actions=2, capa_ids=["c-1"],
        incident_ids=[latest.incident_id], window_seconds=30 * 86400.0,
        checked_by="zhao.hq", check="30天内无门店复发", evidence="巡检报告", at=clock.now())
    publish(nats_url, closed)
    publish(nats_url, closed)  # a second copy tells nobody again
    wait_until(lambda: told(receiver, latest.incident_id, "capa."), WAIT, "the manager told")
    with notifier.client(VIEWER_KEY) as viewer:
        [item] = wait_until(lambda: [d for d in viewer.get("/v1/deliveries", params={
            "incident_id": latest.incident_id}).json()["items"]
            if d["reason"] == "capa.systemic_closed"], WAIT, "the delivery explained")
        message = viewer.get(f"/v1/deliveries/{item['id']}/message").json()
    assert told(receiver, latest.incident_id, "capa.") == [
        ("capa.systemic_closed", "wang.jianguo")]
    assert item["target"] == "up:运营总监@hq"
    assert message["template"] == "zh/capa.systemic_closed.chat.j2", message
    assert "根因「收银机固件未统一升级」" in message["text"]
    assert "由zhao.hq确认" in message["text"]
