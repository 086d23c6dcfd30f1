"""The pure parts of the reports: reading the period and choices, shares that never divide
by zero, line verdicts, the CSV rows and the weekly print-out."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest

from closedloop.report import duration, render, WORDS
from services.incidents.reports.facts import units_of
from services.incidents.reports.period import (
    BUCKETS, check_params, choice, period_of, ratio, unit_of,
)
from services.incidents.reports.selfcheck import line_of, verdict
from services.incidents.reports.tables import csv_of
from shared.errors import Invalid

NOW = datetime(2026, 12, 9, 10, 0, tzinfo=timezone.utc)  # a Wednesday of 2026-W50


def refused(query: dict, field: str) -> str:
    with pytest.raises(Invalid) as error:
        period_of(query, NOW)
    assert error.value.field == field
    return error.value.message


def test_an_iso_week_runs_monday_to_monday_in_the_time_zone_asked():
    period = period_of({"week": "2026-W49", "tz": "Asia/Shanghai"}, NOW)
    assert (period.start.isoformat(), period.end.isoformat(), period.week) == (
        "2026-11-30T00:00:00+08:00", "2026-12-07T00:00:00+08:00", "2026-W49")


def test_without_a_period_the_report_covers_the_last_complete_week():
    assert period_of({}, NOW).week == "2026-W49"


def test_a_bare_end_date_includes_that_day_and_a_running_period_counts_until_now():
    period = period_of({"from": "2026-12-01", "to": "2026-12-07"}, NOW)
    assert period.end == datetime(2026, 12, 8, tzinfo=timezone.utc)
    running = period_of({"from": "2026-12-08T00:00:00Z"}, NOW)
    assert running.end == NOW and running.view(NOW)["as_of"] == NOW.isoformat()


def test_bad_periods_are_refused_naming_the_field():
    assert "2026-W49" in refused({"week": "49"}, "week")
    assert "inverted" in refused({"from": "2026-12-09", "to": "2026-12-08"}, "to")
    refused({"from": "2026-12-09T10:00:00Z", "to": "2026-12-09T10:00:00Z"}, "to")
    refused({"week": "2026-W49", "from": "2026-12-01"}, "week")
    refused({"to": "2026-12-01"}, "from")
    refused({"from": "yesterday"}, "from")
    refused({"week": "2026-W49", "tz": "Mars/Olympus"}, "tz")
    refused({"from": "2026-12-01", "to": "9999-12-31"}, "to")
    assert "400 days" in refused({"from": "2024-01-01", "to": "2026-01-01"}, "to")


def test_unknown_parameters_and_choices_out_of_the_set_are_refused():
    with pytest.raises(Invalid) as error:
        check_params(["week", "severity"], ("week", "unit"))
    assert error.value.field == "severity"
    with pytest.raises(Invalid) as error:
        choice({"bucket": "hour"}, "bucket", BUCKETS, "week")
    assert error.value.field == "bucket" and "day, week, month" in error.value.message
    assert choice({}, "bucket", BUCKETS, "week") == "week"
    with pytest.raises(Invalid) as error:
        unit_of({"unit": "华南\x00"})
    assert error.value.field == "unit"
    assert unit_of({"unit": " 华南 "}) == "华南" and unit_of({}) is None


def test_a_share_of_nothing_says_why_instead_of_dividing_by_zero():
    assert ratio(0, 0, "no incident opened") == {"rate": None, "note": "no incident opened"}
    assert ratio(2, 3, "unused") == {"rate": 0.6667, "note": None}


def test_a_line_passes_when_nine_in_ten_met_their_deadline():
    assert verdict(300.0, 0.9, 10) == (True, None)
    assert verdict(300.0, 0.8889, 9) == (False, None)
    assert verdict(None, 1.0, 3) == (None, "the SLA policy sets no target for this line")
    assert verdict(300.0, None, 0) == (None, "nothing measured yet")


def test_a_severity_without_incidents_has_an_empty_line():
    line = line_of("respond", None, None)
    assert (line["incidents"], line["average_seconds"], line["passed"], line["note"]) == (
        0, None, None, "no incident in the period")


REPORT = {
    "period": {"from": "2026-12-07T00:00:00+00:00", "to": "2026-12-14T00:00:00+00:00",
               "week": "2026-W50", "time_zone": "UTC", "as_of": "2026-12-14T00:00:00+00:00"},
    "unit": "华南", "required_share": 0.9, "opened": 2,
    "closure": {"opened": 2, "closed": 1, "rate": 0.5, "note": None},
    "severities": [{
        "severity": "P0", "policy": "P0 default", "opened": 2,
        "closure": {"opened": 2, "closed": 1, "rate": 0.5, "note": None},
        "lines": [{"kind": "respond", "standard_seconds": 300.0, "incidents": 2, "done": 2,
                   "average_seconds": 390.0, "p90_seconds": 582.0, "met": 1, "missed": 1,
                   "attainment": 0.5, "passed": False, "failed": ["P0-2026-12-002"],
                   "note": None}]}],
}


def test_the_csv_has_a_row_per_line_and_the_closure_rate():
    rows = list(csv.DictReader(io.StringIO(csv_of("self-check", REPORT).lstrip("\ufeff"))))
    assert [(r["severity"], r["line"], r["passed"], r["failed"]) for r in rows] == [
        ("P0", "respond", "fail", "P0-2026-12-002"), ("P0", "closure", "", "")]
    assert rows[1]["attainment"] == "0.5"


def test_durations_read_as_a_person_says_them():
    en, zh = WORDS["en"], WORDS["zh"]
    assert [duration(s, en) for s in (40, 528, 10800, 241920, None)] == [
        "40s", "8m48s", "3h", "2d19h12m", "—"]
    assert duration(16560, zh) == "4小时36分"


@pytest.mark.parametrize("lang, words", [
    ("zh", ["响应时效自检表 2026-W50", "单位 华南", "未达标", "问题闭环率: 1/2 = 50.0% (P0 1/2)"]),
    ("en", ["Timeliness self-check 2026-W50", "unit 华南", "FAIL", "Closure rate: 1/2 = 50.0%"]),
])
def test_the_weekly_print_out_in_both_languages(lang, words):
    text = render(REPORT, lang)
    for word in words:
        assert word in text
    assert "P0-2026-12-002" in text and "2026-12-07 – 2026-12-13" in text
    assert ("6m30s" if lang == "en" else "6分30秒") in text


def test_an_incident_belongs_to_its_unit_and_every_unit_above_it():
    path = [{"key": "south", "name": "华南战区"}, {"key": "sz-baoan", "name": "深圳宝安店"}]
    assert units_of(path, None) == ("深圳宝安店", ["south", "华南战区", "sz-baoan", "深圳宝安店"])
    assert units_of(path, "华南") == ("深圳宝安店",
                                     ["south", "华南战区", "sz-baoan", "深圳宝安店", "华南"])
    assert units_of([], "华南") == ("华南", ["华南"]) and units_of([], None) == (None, [])
