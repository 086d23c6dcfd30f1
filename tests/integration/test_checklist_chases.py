"""The P0 SOP checklist end to end. A P0 is declared on 深圳宝安店 with the seed's checklist
configured: it opens with sixteen items, the first three due in 15 minutes. The store manager
checks hers; at 80% of the quarter hour the Responsible (运营专家 and 店长) are warned of the two
items still open; one is checked; at 15 minutes the Accountable (战区负责人) is told of the last
one, which is then checked late, so nobody one level up is told. Checked items are never
chased; the timeline tells it; a responder copies a ready message for the region lead.
Refusals name what is wrong: a viewer (403), someone else's name (403), an unknown item (404),
an item checked twice (409). Real NATS and PostgreSQL, both services on one ManualClock; a
local webhook receiver records who got which reason about which item."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from tests.harness import API_KEYS, RESPONDER_KEY, VIEWER_KEY, RunningService, wait_until
from tests.integration.test_notifier_raci import deadline, store_network
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, notifier, receiver,
)

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "checklists" / "p0.yaml"
LINA_KEY = "harness-li-na-responder-5e2b7c"  # a key bound to li.na (店长)


def chased(receiver, incident_id: str) -> list[tuple[str, str, str]]:
    """(reason, item, person) of every checklist chase delivered."""
    bodies = [json.loads(r["body"]) for r in receiver.received("/im", incident_id)]
    return sorted((b["reason"], b["about"]["subject"], b["recipient"]["handle"])
                  for b in bodies if b["reason"].startswith("late.checklist."))


def test_a_p0s_first_checklist_items_fall_due_and_escalate_until_checked(
        notifier, receiver, database_url, nats_url, clock):
    incidents = RunningService(incidents_app(IncidentsSettings(
        database_url=database_url, nats_url=nats_url,
        api_keys=f"{API_KEYS},{LINA_KEY}:responder@li.na", checklists_file=str(EXAMPLE)),
        clock=clock)).start()
    try:
        store_network(notifier, receiver)  # P0: R 运营专家 zhou.min + 店长 li.na, A 战区负责人 zhao.lei
        with incidents.client(RESPONDER_KEY) as api, incidents.client(LINA_KEY) as lina, \
                incidents.client(VIEWER_KEY) as viewer:
            declared = api.post("/v1/incidents", json={
                "severity": "P0", "title": "全店收银瘫痪", "entity": "store-017",
                "summary": "所有收银台无法结账", "reporter": "zhou.min"})
            assert declared.status_code == 201, declared.text
            iid, ref = declared.json()["id"], declared.json()["ref"]
            opened_at = datetime.fromisoformat(declared.json()["opened_at"])
            listed = viewer.get(f"/v1/incidents/{ref}/checklist")
            assert listed.status_code == 200, listed.text
            assert listed.json()["counts"] == {"done": 0, "open": 16, "overdue": 0}
            first = listed.json()["items"][0]
            assert first["id"] == "store_manager_called"
            assert datetime.fromisoformat(first["due_at"]) == opened_at + timedelta(minutes=15)
            wait_until(lambda: deadline(notifier, iid, "checklist:task_created"), WAIT,
                       "the checklist's deadlines")
            assert deadline(notifier, iid, "checklist:closed")["due_at"][:16] == (
                opened_at + timedelta(days=3)).isoformat()[:16]

            # The store manager called in at five minutes; she checks it herself.
            clock.advance(timedelta(minutes=5))
            checked = lina.post(f"/v1/incidents/{ref}/checklist/store_manager_called/check",
                                json={"by": "li.na", "note": "已到店，启用备用收银机"})
            assert checked.status_code == 200, checked.text
            assert (checked.json()["state"], checked.json()["checked_by"]) == ("done", "li.na")

            # Refusals, each naming what is wrong.
            refused = viewer.post(f"/v1/incidents/{ref}/checklist/task_created/check",
                                  json={"by": "wang.jianguo"})
            assert refused.status_code == 403
            refused = lina.post(f"/v1/incidents/{ref}/checklist/task_created/check",
                                json={"by": "zhou.min"})
            assert refused.status_code == 403 and "cannot act as zhou.min" in refused.text
            refused = api.post(f"/v1/incidents/{ref}/checklist/coffee_made/check",
                               json={"by": "zhou.min"})
            assert refused.status_code == 404 and "'coffee_made' is not an item" in refused.text
            refused = api.post(f"/v1/incidents/{ref}/checklist/store_manager_called/check",
                               json={"by": "zhou.min"})
            assert refused.status_code == 409
            assert "'store_manager_called'" in refused.text and "checked by li.na" in refused.text
            refused = api.post(f"/v1/incidents/{ref}/checklist/review_held/check",
                               json={"by": "zhou.min"})
            assert refused.status_code == 403 and "checked by a manager" in refused.text
            wait_until(lambda: deadline(notifier, iid, "checklist:store_manager_called")[
                "status"] == "met", WAIT, "the checked item's chase met")

            # 12 minutes in (80% of the quarter hour): the Responsible are warned of the two
            # items still open, not of the one checked.
            clock.advance(timedelta(minutes=7))
            wait_until(lambda: len(chased(receiver, iid)) == 4, WAIT, "the warnings")
            assert chased(receiver, iid) == [
                ("late.checklist.warning", "已建任务", "li.na"),
                ("late.checklist.warning", "已建任务", "zhou.min"),
                ("late.checklist.warning", "已通知区域负责人", "li.na"),
                ("late.checklist.warning", "已通知区域负责人", "zhou.min")]
            assert api.post(f"/v1/incidents/{ref}/checklist/region_lead_told/check",
                            json={"by": "zhou.min"}).status_code == 200
            wait_until(lambda: deadline(notifier, iid, "checklist:region_lead_told")[
                "status"] == "met", WAIT, "the region lead's chase met")

            # 15 minutes: the Accountable is told of the task nobody created.
            clock.advance(timedelta(minutes=3))
            wait_until(lambda: len(chased(receiver, iid)) == 5, WAIT, "the Accountable told")
            assert ("late.checklist.deadline", "已建任务", "zhao.lei") in chased(receiver, iid)
            states = {i["id"]: i["state"]
                      for i in viewer.get(f"/v1/incidents/{ref}/checklist").json()["items"]}
            assert (states["store_manager_called"], states["region_lead_told"],
                    states["task_created"], states["facts_gathered"]) == (
                "done", "done", "overdue", "open")
            late = api.post(f"/v1/incidents/{ref}/checklist/task_created/check",
                            json={"by": "zhou.min", "note": "工单 T-118"})
            assert late.status_code == 200 and late.json()["late"] is True
            wait_until(lambda: deadline(notifier, iid, "checklist:task_created")[
                "status"] == "met", WAIT, "the task's chase met")

            # Past the hour and a quarter: the hour's items are chased (warned, then the
            # Accountable told); none of the quarter hour's reaches anyone one level up.
            clock.advance(timedelta(minutes=61))
            wait_until(lambda: len([c for c in chased(receiver, iid)
                                    if c[0] == "late.checklist.deadline"]) == 4, WAIT,
                       "the hour's items past due")
            quarter = {"已致电店长", "已通知区域负责人", "已建任务"}
            assert not [c for c in chased(receiver, iid)
                        if c[0] == "late.checklist.up" and c[1] in quarter]
            assert {c[1] for c in chased(receiver, iid)
                    if c[0] == "late.checklist.deadline"} == {
                "已建任务", "已收集事实", "已评估严重程度", "已确定下一步"}

            # The responder copies a ready message for the region lead.
            message = api.get(f"/v1/incidents/{ref}/checklist/messages/region_lead",
                              params={"language": "zh"})
            assert message.status_code == 200, message.text
            parts = message.json()["parts"]
            assert parts["situation"].startswith(f"【P0 通报】{ref}：store-017「全店收银瘫痪」")
            assert parts["complication"] == "已持续 1小时16分钟；SOP 检查项完成 3/16，其中 3 项已超时。"
            bad = api.get(f"/v1/incidents/{ref}/checklist/messages/region_lead",
                          params={"language": "fr"})
            assert bad.status_code == 422 and "language" in bad.text

            timeline = [e for e in api.get(f"/v1/incidents/{ref}/timeline").json()
                        if e["action"].startswith("checklist")]
            assert [e["action"] for e in timeline] == [
                "checklist attached", "checklist item checked", "checklist item checked",
                "checklist item checked"]
            assert timeline[-1]["detail"].startswith("zhou.min checked 已建任务 (Task created), "
                                                     "late")
    finally:
        incidents.stop()
