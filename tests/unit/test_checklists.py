"""SOP checklists with time boxes. The seed's P0 list (examples/checklists/p0.yaml) loads and
a bad file is refused naming the file and the field; a P0 opened by an alert carries the
list with each item due from its opening; people check items once (who, when, note), a
sign-off takes a manager, an unknown item is named; unchecked items fall overdue; a severity
change swaps or withdraws the checklist; the communication templates render with the
incident's data in SCQA order; the bus and the timeline hear of it all."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shared.contracts import IncidentChecklistAttached, IncidentChecklistItemChecked

from services.incidents.app import IncidentsApplication
from services.incidents.checklist_templates import ChecklistConfigError, load_checklists
from services.incidents.checklists import MessageNotFound
from services.incidents.domain import Severity
from services.incidents.domain.checklist import (
    ChecklistItemNotFound, ItemAlreadyChecked, ItemNeedsManager, NoChecklist,
)
from services.incidents.translate import to_contract
from shared.errors import Invalid
from tests.unit.test_incidents_domain import CAUSE, T0, Feed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "checklists" / "p0.yaml"
REF = "P0-2026-11-001"


class ChecklistFeed(Feed):
    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self.app = IncidentsApplication(env, self.clock, checklists=load_checklists(EXAMPLE))

    def contracts(self) -> list:
        found = []
        for n in self.app.recorder.select_notifications(1, 1000):
            contract = to_contract(self.app.decode(n))
            if isinstance(contract, (IncidentChecklistAttached, IncidentChecklistItemChecked)):
                found.append(contract)
        return found


@pytest.fixture
def checklists(store_env):
    return ChecklistFeed(store_env)


# -- the configuration ------------------------------------------------------------------------
def test_the_seeds_p0_list_loads_with_its_time_boxes_and_templates():
    templates = load_checklists(EXAMPLE)
    p0 = templates.template_for("P0", "payment")  # no type of its own: the severity's list
    assert p0 is not None and templates.template_for("P1") is None
    boxes = [(s["within_seconds"], [i.id for i in p0.items if i.step == n])
             for n, s in enumerate(p0.steps)]
    assert boxes == [
        (900, ["store_manager_called", "region_lead_told", "task_created"]),
        (3600, ["facts_gathered", "severity_assessed", "next_steps_set"]),
        (14400, ["root_cause_found", "plans_made", "resources_in_place"]),
        (86400, ["short_term_plan_running", "customers_contacted", "metric_improving"]),
        (259200, ["mid_term_plan_done", "effect_verified", "review_held", "closed"])]
    assert p0.items[0].title == {"zh": "已致电店长", "en": "Store manager called"}
    assert set(templates.messages) == {"store_manager", "region_lead"}
    assert load_checklists("").source is None  # no file: no checklists


@pytest.mark.parametrize("change, where", [
    (lambda t: t.replace("within: 1h", "within: 10m"), "templates.0.steps.1.within"),
    (lambda t: t.replace("id: task_created", "id: region_lead_told"),
     "templates.0.steps.0.items.2.id"),
    (lambda t: t.replace("id: task_created", "id: Task-Created"),
     "templates.0.steps.0.items.2.id"),
    (lambda t: t.replace("messages: [store_manager, region_lead]",
                         "messages: [store_manager, area_lead]"), "templates.0.steps.0.messages"),
    (lambda t: t.replace("{{ elapsed }}，正在", "{{ elapsd }}，正在"),
     "messages.store_manager.zh.complication"),
    (lambda t: t.replace("{{ ref }}：", "{{ ref ："), "messages.region_lead.zh.situation"),
    (lambda t: t.replace("      question: >-\n        需要您确认", "      questions: >-\n        需要"),
     "messages.region_lead.zh"),
    (lambda t: t.replace("role: manager", "role: admin", 1),
     "templates.0.steps.4.items.2.role"),
    (lambda t: t.replace("time_zone: Asia/Shanghai", "time_zone: Mars/Olympus"), "time_zone"),
    (lambda t: t.replace("within: 4h", "within: soon"), "templates.0.steps.2.within"),
])
def test_a_bad_checklist_file_is_refused_naming_the_file_and_the_field(tmp_path, change, where):
    bad = tmp_path / "checklists.yaml"
    bad.write_text(change(EXAMPLE.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ChecklistConfigError) as refused:
        load_checklists(bad)
    assert str(refused.value).startswith(f"checklists {bad}: {where}:"), str(refused.value)


def test_a_missing_file_is_refused_naming_it(tmp_path):
    with pytest.raises(ChecklistConfigError, match="nowhere.yaml: cannot be read"):
        load_checklists(tmp_path / "nowhere.yaml")


# -- an incident's checklist -----------------------------------------------------------------
def test_a_p0_opens_with_the_list_each_item_due_from_its_opening(checklists):
    checklists.raise_alert("a-1")
    listed = checklists.app.checklist(REF)
    assert (listed["name"], listed["severity"], len(listed["items"])) == ("P0 SOP", "P0", 16)
    first = listed["items"][0]
    assert (first["id"], first["state"], first["due_at"]) == (
        "store_manager_called", "open", T0 + timedelta(minutes=15))
    assert listed["items"][-1]["due_at"] == T0 + timedelta(days=3)
    assert listed["counts"] == {"done": 0, "open": 16, "overdue": 0}
    [attached] = checklists.contracts()
    assert attached.template == "P0 SOP" and attached.replaced is None
    assert [(i.item, i.title, i.due_at) for i in attached.items[:1]] == [
        ("store_manager_called", "已致电店长", T0 + timedelta(minutes=15))]
    # Later changes of the incident do not attach it again.
    checklists.raise_alert("a-2")
    assert len(checklists.contracts()) == 1


def test_items_are_checked_once_by_a_person_and_unchecked_ones_fall_overdue(checklists):
    checklists.raise_alert("a-1")
    checklists.clock.advance(timedelta(minutes=9))
    done = checklists.app.check_checklist_item(REF, "store_manager_called", "li.na",
                                               " 已致电李娜，启用备用收银机 ", False, CAUSE)
    assert (done["state"], done["checked_by"], done["note"], done["late"]) == (
        "done", "li.na", "已致电李娜，启用备用收银机", False)
    assert done["checked_at"] == T0 + timedelta(minutes=9)

    with pytest.raises(ItemAlreadyChecked, match="'store_manager_called' .*was checked by "
                                                 "li.na"):
        checklists.app.check_checklist_item(REF, "store_manager_called", "zhou.min", "", False,
                                            CAUSE)
    with pytest.raises(ChecklistItemNotFound, match="'coffee_made' is not an item") as unknown:
        checklists.app.check_checklist_item(REF, "coffee_made", "li.na", "", False, CAUSE)
    assert unknown.value.field == "item"
    with pytest.raises(ItemNeedsManager, match="'review_held' .*checked by a manager"):
        checklists.app.check_checklist_item(REF, "review_held", "li.na", "", False, CAUSE)

    checklists.clock.advance(timedelta(minutes=7))  # 16 minutes in: the others are late
    states = {i["id"]: i["state"] for i in checklists.app.checklist(REF)["items"]}
    assert states["store_manager_called"] == "done"
    assert states["region_lead_told"] == states["task_created"] == "overdue"
    assert states["facts_gathered"] == "open"
    late = checklists.app.check_checklist_item(REF, "task_created", "zhou.min", "", False, CAUSE)
    assert late["late"] is True
    signed = checklists.app.check_checklist_item(REF, "review_held", "zhao.lei", "复盘会已开",
                                                 True, CAUSE)
    assert signed["state"] == "done"
    checked = [c for c in checklists.contracts() if isinstance(c, IncidentChecklistItemChecked)]
    assert [(c.item, c.by, c.late) for c in checked] == [
        ("store_manager_called", "li.na", False), ("task_created", "zhou.min", True),
        ("review_held", "zhao.lei", False)]
    timeline = checklists.app.incident(REF)["timeline"]
    lines = [e["detail"] for e in timeline if e["action"].startswith("checklist")]
    assert lines[0].startswith("checklist 'P0 SOP' attached (16 items); the first items are "
                               "due by 2026-11-02 09:15 UTC")
    assert lines[1] == "li.na checked 已致电店长 (Store manager called): 已致电李娜，启用备用收银机"
    assert lines[2] == "zhou.min checked 已建任务 (Task created), late (due 2026-11-02 09:15 UTC)"


def test_a_severity_change_swaps_or_withdraws_the_checklist(checklists):
    checklists.raise_alert("a-1", severity="P2")
    ref = "P2-2026-11-001"
    with pytest.raises(NoChecklist, match=f"incident {ref} has no checklist"):
        checklists.app.checklist(ref)
    checklists.clock.advance(timedelta(minutes=20))
    checklists.app.change_severity(ref, Severity.P0, "全店收银瘫痪", "li.na", CAUSE)
    raised = checklists.app.checklist(ref)
    # Counted from the opening, as the SLA is: the 15-minute items are overdue at once.
    assert raised["name"] == "P0 SOP" and raised["counts"]["overdue"] == 3
    checklists.app.check_checklist_item(ref, "store_manager_called", "li.na", "", False, CAUSE)
    checklists.app.change_severity(ref, Severity.P1, "只影响一家店", "zhao.lei", CAUSE)
    with pytest.raises(NoChecklist):
        checklists.app.checklist(ref)
    attached = [c for c in checklists.contracts() if isinstance(c, IncidentChecklistAttached)]
    assert [(c.template, c.replaced, len(c.items)) for c in attached] == [
        ("P0 SOP", None, 16), (None, "P0 SOP", 0)]
    timeline = [e["detail"] for e in checklists.app.incident(ref)["timeline"]]
    assert "checklist 'P0 SOP' withdrawn: no template applies to the incident any more" \
        in timeline


def test_without_a_checklist_file_nothing_is_attached(store_env):
    feed = Feed(store_env)
    feed.raise_alert("a-1")
    with pytest.raises(NoChecklist):
        feed.app.checklist(REF)
    assert [e["action"] for e in feed.app.incident(REF)["timeline"]] == ["opened"]


# -- communication templates ------------------------------------------------------------------
def test_a_ready_message_for_the_store_manager_and_the_region_lead(checklists):
    checklists.raise_alert("a-1")
    checklists.clock.advance(timedelta(minutes=9))
    checklists.app.check_checklist_item(REF, "store_manager_called", "li.na", "", False, CAUSE)
    manager = checklists.app.checklist_message(REF, "store_manager", "zh", "zhou.min")
    assert manager["audience"] == "店长" and list(manager["parts"]) == [
        "situation", "complication", "question", "answer"]
    # Times in Asia/Shanghai: T0 is 17:00 there.
    assert manager["parts"]["situation"] == (
        f"您好，我是总部运营 zhou.min。2026-11-02 17:00，store-42 发生 P0 级问题"
        f"「checkout_latency on store-42」（单号 {REF}）：checkout_latency on store-42。")
    assert manager["parts"]["complication"].startswith("问题已持续 9分钟，")
    assert manager["text"].split("\n") == list(manager["parts"].values())
    lead = checklists.app.checklist_message(REF, "region_lead", "en", None)
    assert lead["audience"] == "region lead"
    assert lead["parts"]["complication"] == "It has lasted 9 min; 1 of 16 SOP items are done."
    assert 'next, "Region lead told" is due by 2026-11-02 17:15;' in lead["parts"]["answer"]
    with pytest.raises(MessageNotFound, match="'customer' is not a communication template"):
        checklists.app.checklist_message(REF, "customer", "zh", None)
    with pytest.raises(Invalid, match="language: 'fr' is not offered"):
        checklists.app.checklist_message(REF, "store_manager", "fr", None)
