"""The rules and on-call pages' parts without services: a backtest answer as an ECharts
option, API refusals sorted by form field, and a schedule's week cut at local midnights."""
from __future__ import annotations

from datetime import datetime, timezone

from services.console.i18n import translator
from services.console.oncall_week import week_days, week_start
from services.console.rules_chart import backtest_option, value_at
from services.console.rules_pages import field_errors


def test_an_alert_pin_sits_on_the_nearest_charted_point():
    points = [[0, 1.0], [60, 5.0], [120, 9.0]]
    assert value_at(points, 70) == 5.0 and value_at(points, 119) == 9.0
    assert value_at(points, -5) == 1.0 and value_at([], 10) is None


def test_a_backtest_becomes_lines_pins_and_shaded_windows():
    result = {"series": [{"entity": "s1", "total": 3,
                          "points": [[0, 1.0], [60, 50.0], [120, 2.0]]}],
              "replay": {"alerts": [{"entity": "s1", "start": 60, "summary": "high"}]},
              "labelled_windows": [{"start": 30, "end": 90, "entity": None}]}
    option = backtest_option(result, translator("en"))
    line, pins, windows = option["series"]
    assert line["name"] == "s1" and line["data"] == [[0, 1.0], [60000, 50.0], [120000, 2.0]]
    assert pins["type"] == "scatter" and pins["data"][0]["value"] == [60000, 50.0]
    assert windows["markArea"]["data"] == [[{"name": "any entity", "xAxis": 30000},
                                            {"xAxis": 90000}]]
    assert option["xAxis"]["type"] == "time"


def test_refusals_are_told_by_the_field_they_name():
    errors, rest = field_errors("windows.0.end: Field required; start: not a time; "
                                "this action needs the responder role")
    assert errors == {"windows": "windows.0.end: Field required", "start": "start: not a time"}
    assert rest == "this action needs the responder role"


def test_a_week_starts_on_the_local_monday_and_cuts_shifts_at_local_midnight():
    sunday_night_utc = datetime(2026, 11, 8, 20, 0, tzinfo=timezone.utc)  # Mon 04:00 Shanghai
    start = week_start(sunday_night_utc, "Asia/Shanghai")
    assert start.isoformat() == "2026-11-09T00:00:00+08:00"
    assert week_start(sunday_night_utc, "Asia/Shanghai", -1).date().isoformat() == "2026-11-02"
    shifts = [{"start": "2026-11-09T01:00:00+00:00", "end": "2026-11-10T01:00:00+00:00",
               "handle": "sun.li", "source": {"kind": "layer"}},
              {"start": "2026-11-10T08:00:00+00:00", "end": "2026-11-10T10:00:00+00:00",
               "handle": "li.na", "source": {"kind": "override"}}]
    days = week_days(start, shifts)
    assert len(days) == 7 and days[0]["weekday"] == 0
    assert [(p["handle"], p["from"], p["to"], p["override"]) for p in days[0]["shifts"]] == [
        ("sun.li", "09:00", "24:00", False)]
    assert [(p["handle"], p["from"], p["to"], p["override"]) for p in days[1]["shifts"]] == [
        ("sun.li", "00:00", "09:00", False), ("li.na", "16:00", "18:00", True)]
    assert days[2]["shifts"] == []


def test_the_day_clocks_go_back_still_runs_to_24_00():
    start = week_start(datetime(2026, 10, 20, tzinfo=timezone.utc), "Europe/Berlin")
    assert start.isoformat() == "2026-10-19T00:00:00+02:00"
    whole = [{"start": "2026-10-25T00:00:00+00:00", "end": "2026-11-02T00:00:00+00:00",
              "handle": "a", "source": {"kind": "layer"}}]
    sunday = week_days(start, whole)[6]   # 25 October 2026 lasts 25 hours in Berlin
    assert sunday["date"].isoformat() == "2026-10-25"
    assert (sunday["shifts"][0]["from"], sunday["shifts"][0]["to"]) == ("02:00", "24:00")
