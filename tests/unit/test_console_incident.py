"""The incident page's parts without services: what each form sends to its API, where a
refusal is shown, the chart option drawn around an alert, and the timeline in Chinese."""
from __future__ import annotations

import json
import re
from pathlib import Path

from services.console.incident_actions import FORMS, field_of
from services.console.incident_data import chart_option
from services.console.incident_text import TIMELINE_ZH, timeline_sentence
from services.detector.alert_samples_api import plain_bounds
from services.incidents.timeline import _STORY

CAPA_FACTS = Path(__file__).resolve().parents[2] / "services" / "incidents" / "capa_facts.py"


def test_a_root_cause_form_becomes_five_whys_and_fishbone_factors():
    body = FORMS["root-cause"].body({
        "by": "alice", "method": "5whys", "statement": " 周末排班未参考客流预测 ",
        "category": "method", "why1": "排队", "why2": "", "why3": "少排两人",
        "factors_man": "新店长不熟悉排班工具\n\n", "factors_method": "缺少预测检查",
        "factors_machine": "", "csrf": "x", "capa": "c"})
    assert body == {"by": "alice", "method": "5whys", "statement": "周末排班未参考客流预测",
                    "category": "method", "whys": ["排队", "少排两人"],
                    "contributing_factors": [
                        {"category": "man", "factor": "新店长不熟悉排班工具"},
                        {"category": "method", "factor": "缺少预测检查"}]}
    fishbone = FORMS["root-cause"].body({"by": "a", "method": "fishbone", "statement": "s",
                                         "why1": "ignored"})
    assert "whys" not in fishbone and "category" not in fishbone  # the API names what's missing


def test_other_forms_send_only_their_fields():
    assert FORMS["verify"].body({"verifier": "bob", "effective": "no", "note": "n",
                                 "csrf": "x"}) == {"verifier": "bob", "effective": False,
                                                   "note": "n"}
    assert FORMS["verify"].body({"verifier": "bob"})["effective"] is True
    assert FORMS["progress"].body({"text": "t", "author": "a", "next_update_in": ""}) == {
        "text": "t", "author": "a"}
    assert FORMS["progress"].body({"text": "t", "author": "a", "next_update_in": "30m"})[
        "next_update_in"] == "30m"
    assert FORMS["severity"].body({"severity": "P2", "reason": "r", "by": "b", "csrf": "x"}) \
        == {"severity": "P2", "reason": "r", "by": "b"}


def test_a_refusal_is_placed_at_the_field_it_names_else_at_the_forms_main_field():
    verify = FORMS["verify"]
    assert field_of(verify, "verifier: this key belongs to alice; it cannot act as bob") \
        == "verifier"
    assert field_of(verify, "action A-1 of P0-1 cannot be verified by its owner alice") \
        == "verifier"
    assert field_of(FORMS["action"], "due_date: Input should be a valid date") == "due_date"
    assert field_of(FORMS["severity"], "lowering a severity needs the manager role") \
        == "severity"


def test_the_chart_draws_the_rules_bounds_else_the_alerts_threshold():
    around = {"metric": "nps", "threshold": 50, "started_at": "2026-12-06T06:00:00+00:00",
              "bounds": {"below": 50},
              "samples": [{"at": "2026-12-06T05:00:00+00:00", "value": 72},
                          {"at": "2026-12-06T06:00:00+00:00", "value": 42}]}
    option = json.loads(chart_option(around, None))
    series = option["series"][0]
    assert series["data"] == [["2026-12-06T05:00:00+00:00", 72],
                              ["2026-12-06T06:00:00+00:00", 42]]
    lines = series["markLine"]["data"]
    assert {"yAxis": 50, "name": "below"} in lines
    assert any(line.get("xAxis") == around["started_at"] for line in lines)
    band = json.loads(chart_option({**around, "bounds": {"between": [40, 60]}}, None))
    assert band["series"][0]["markArea"]["data"] == [[{"yAxis": 40, "name": "between"},
                                                      {"yAxis": 60}]]
    assert all("yAxis" not in line for line in band["series"][0]["markLine"]["data"])
    outside = json.loads(chart_option({**around, "bounds": {}, "threshold": 7}, "2026-12-06"))
    assert {"yAxis": 7, "name": "threshold"} in outside["series"][0]["markLine"]["data"]


def test_only_a_plain_value_condition_has_bounds_on_the_metrics_scale():
    assert plain_bounds({"when": {"value": {}, "below": 50}}, "P0") == {"below": 50}
    assert plain_bounds({"when": {"change": {"over": "1d"}, "below": -10}}, "P0") == {}
    banded = {"bands": [{"level": "P0", "when": {"value": {}, "above": 90}},
                        {"level": "P1", "when": {"value": {}, "above": 80}}]}
    assert plain_bounds(banded, "P1") == {"above": 80}
    assert plain_bounds(None, "P0") == {}


def test_the_timeline_speaks_chinese_in_zh_and_keeps_the_apis_sentence_in_en():
    entry = {"action": "acknowledged", "actor": "alice",
             "detail": "alice acknowledged P0-1: on it"}
    assert timeline_sentence(entry, "zh") == "alice 确认接手"
    assert timeline_sentence(entry, "en") == "alice acknowledged P0-1: on it"
    # A step named with a suffix the table does not know uses its kind's phrase.
    assert timeline_sentence({"action": "escalated to step 2", "actor": "notifier"},
                             "zh") == "notifier 升级通知"
    assert timeline_sentence({"action": "opened", "actor": ""}, "zh") == "系统 创建了事件"
    assert all(phrase for phrase in TIMELINE_ZH.values())


def test_every_step_the_incidents_timeline_tells_has_a_chinese_phrase():
    told = {action for action, _ in _STORY.values() if action} - {"CAPA step"}
    capa_steps = set(re.findall(r'key, "([a-z ]+)"|f"[^"]+",\s*"([a-z ]+)"',
                                CAPA_FACTS.read_text()))
    steps = told | {s for pair in capa_steps for s in pair if s}
    assert {"root cause found", "effectiveness window lengthened"} <= steps
    assert steps <= set(TIMELINE_ZH), sorted(steps - set(TIMELINE_ZH))
