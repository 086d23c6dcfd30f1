"""Digests end to end: a digest policy defined over HTTP (its settings checked, the field
named when wrong), P3 incidents published to JetStream, and one digest per person posted to
a real webhook receiver at 09:00 on each person's clock, not again after a restart. Real
NATS and PostgreSQL; time is a ManualClock."""
from __future__ import annotations

import json

import pytest

from shared.contracts import IncidentResolved
from tests.harness import MANAGER_KEY, VIEWER_KEY, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    SECRET, WAIT, clock, incident_opened, notifier, publish, receiver, start_notifier,
    wait_drained,
)

pytestmark = pytest.mark.integration


def digests_received(receiver) -> list[dict]:
    bodies = [json.loads(r["body"]) for r in receiver.received("/im")]
    return [b for b in bodies if b["reason"].startswith("digest.")]


def collecting(service) -> list[dict]:
    with service.client(VIEWER_KEY) as viewer:
        return viewer.get("/v1/digests", params={"status": "collecting"}).json()["items"]


def test_p3_incidents_become_one_digest_per_person_at_nine_local_and_survive_a_restart(
        notifier, database_url, nats_url, clock, receiver):
    with notifier.client(MANAGER_KEY) as manager:
        assert manager.post("/v1/channels", json={
            "name": "im-gateway", "url": receiver.url("/im"), "secret": SECRET}
        ).status_code == 201
        for handle, zone, language in (("li.na", "Asia/Shanghai", "zh"),
                                       ("anna", "Europe/Berlin", "en")):
            created = manager.post("/v1/people", json={
                "handle": handle, "name": handle.title(), "time_zone": zone,
                "language": language, "contacts": [
                    {"medium": "chat", "address": f"@{handle}", "channel": "im-gateway"}]})
            assert created.status_code == 201, created.text
        assert manager.post("/v1/units", json={
            "key": "store-017", "name": "深圳宝安店", "entities": ["checkout-api"]}
        ).status_code == 201
        steps = [{"targets": [{"kind": "person", "ref": "li.na"},
                              {"kind": "person", "ref": "anna"}], "delay_seconds": 600}]
        refused = manager.post("/v1/policies", json={
            "name": "轻度预警", "severities": ["P3"], "steps": steps, "digest": "daily",
            "digest_at": "9 o'clock"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == "digest_at"
        policy = manager.post("/v1/policies", json={
            "name": "轻度预警", "severities": ["P3"], "steps": steps, "digest": "daily"})
        assert policy.status_code == 201, policy.text
        assert (policy.json()["digest"], policy.json()["digest_at"]) == ("daily", "09:00")
        wait_until(lambda: manager.get("/v1/policies").json()["items"], WAIT, "the policy row")
        listed = manager.get("/v1/policies").json()["items"]
        assert listed[0]["digest"] == "daily" and listed[0]["digest_weekday"] is None

    # Monday 17:00 in Shanghai, 10:00 in Berlin: two P3 incidents, one resolved.
    first, second = incident_opened(clock, "P3"), incident_opened(clock, "P3")
    publish(nats_url, first)
    publish(nats_url, second)
    clock.advance(3600)
    publish(nats_url, IncidentResolved(
        incident_id=first.incident_id, ref=first.ref, severity="P3", title=first.title,
        entity=first.entity, by="li.na", at=clock.now()))
    wait_drained(nats_url)
    rows = wait_until(lambda: len(collecting(notifier)) == 2 and all(
        len(d["incidents"]) == 2 for d in collecting(notifier)) and collecting(notifier),
        WAIT, "both digests to hold both incidents")
    assert {(d["person"], d["due_at"]) for d in rows} == {
        ("li.na", "2026-11-03T01:00:00Z"), ("anna", "2026-11-03T08:00:00Z")}
    assert receiver.received("/im") == []  # nobody was paged

    clock.advance(15 * 3600 - 1)  # 08:59:59 in Shanghai
    clock.advance(1)
    [li_na] = wait_until(lambda: digests_received(receiver), WAIT, "li.na's digest")
    assert (li_na["reason"], li_na["recipient"]["handle"]) == ("digest.daily", "li.na")
    assert li_na["about"]["digest"]["counts"] == {"fired": 2, "open": 1, "closed": 1}
    assert li_na["about"]["digest"]["units"] == [
        {"unit": "store-017", "name": "深圳宝安店", "fired": 2, "open": 1, "closed": 1}]
    assert li_na["about"]["message"]["subject"] == \
        "日报汇总 2026-11-03 · 2 新 / 1 未关闭 / 1 已关闭"
    assert li_na["incident"]["incident_id"].startswith("digest:")

    notifier.stop()  # a restart: the new process finds li.na's digest sent
    restarted = start_notifier(database_url, nats_url, clock)
    try:
        clock.advance(7 * 3600)  # 09:00 in Berlin
        wait_until(lambda: len(digests_received(receiver)) == 2, WAIT, "anna's digest")
        anna = digests_received(receiver)[1]
        assert anna["recipient"]["handle"] == "anna"
        assert anna["about"]["message"]["subject"].startswith("Daily digest 2026-11-03")
        with restarted.client(VIEWER_KEY) as viewer:
            sent = wait_until(lambda: (items := viewer.get(
                "/v1/digests", params={"status": "sent"}).json()["items"])
                and len(items) == 2 and items, WAIT, "both recorded as sent")
            assert {d["person"]: d["counts"]["open"] for d in sent} == {"li.na": 1, "anna": 1}
            detail = viewer.get(f"/v1/digests/{sent[0]['id']}").json()
            assert detail["counts"] == sent[0]["counts"]
        # Each went out once: tomorrow's digests (what is still open) wait for their time.
        assert sorted(b["recipient"]["handle"] for b in digests_received(receiver)) == [
            "anna", "li.na"]
        assert {d["person"] for d in collecting(restarted)} == {"li.na", "anna"}
    finally:
        restarted.stop()
