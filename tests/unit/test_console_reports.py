"""The console's reports and wall parts without services: periods as buckets, figures shaped
for the charts, durations as the table prints them, roles deciding what a page offers, and
the board's date filter as whole days in the console's zone."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from services.console.board import api_filters, card
from services.console.periods import buckets
from services.console.report_charts import capa_series, duration, response_series
from services.console.roles import may

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_preset_becomes_buckets_ending_with_the_current_one_in_the_zone():
    # Sunday 20:00 UTC is already Monday in Shanghai: the current week starts that Monday.
    now = datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc)
    weeks = buckets("4w", now, SHANGHAI)
    assert weeks.bucket == "week" and weeks.starts == [
        date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30), date(2026, 12, 7)]
    assert buckets("4w", now, ZoneInfo("UTC")).starts[-1] == date(2026, 11, 30)
    months = buckets("6m", datetime(2026, 2, 10, tzinfo=timezone.utc), ZoneInfo("UTC"))
    assert months.starts == [date(2025, 9, 1), date(2025, 10, 1), date(2025, 11, 1),
                             date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    bounds = months.bounds(ZoneInfo("UTC"))
    assert bounds[0][1] == bounds[1][0] and bounds[-1][1] is None  # the last runs until now
    assert buckets("bogus", now, SHANGHAI).preset == "12w"


def test_figures_land_in_their_bucket_and_missing_ones_are_gaps():
    starts = [date(2026, 11, 23), date(2026, 11, 30)]
    shaped = response_series([{"bucket": "2026-11-30", "severity": "P0", "mtta_seconds": 300.0,
                               "mttr_seconds": 5400.0}], starts)
    assert shaped["mtta"]["P0"] == [None, 5.0] and shaped["mttr"]["P0"] == [None, 1.5]
    assert shaped["mtta"]["P3"] == [None, None]
    capa = capa_series([None, {"overall": {"on_time_rate": {"value": 0.5},
                                           "open_actions": {"value": 3}}}], starts)
    assert capa["rates"]["on_time_rate"] == [None, 50.0]
    assert capa["open_actions"] == [None, 3] and capa["rates"]["recurrence_rate"] == [None, None]


def test_durations_read_as_the_self_check_table_prints_them():
    assert duration(320, "zh") == "5分20秒" and duration(320, "en") == "5m 20s"
    assert duration(90061, "en") == "1d 1h" and duration(0, "en") == "0s"
    assert duration(None, "zh") == "—"


def test_the_role_decides_what_a_page_offers():
    assert may({"role": "responder"}, "responder") and may({"role": "admin"}, "manager")
    assert not may({"role": "viewer"}, "responder")
    assert not may({}, "responder") and may({}, "viewer")  # no role known: reading only
    assert not may({"role": "ingest"}, "viewer")


def test_the_board_filters_become_the_apis_and_dates_whole_days():
    found = api_filters(" 华南区 ", "li", "2026-12-01", "2026-12-01", SHANGHAI)
    assert found == {"unit": "华南区", "owner": "li", "from": "2026-12-01T00:00:00+08:00",
                     "to": "2026-12-02T00:00:00+08:00"}  # `to` includes its day
    assert api_filters("", "", "", "", SHANGHAI) == {}
    with pytest.raises(ValueError, match="12/01/2026"):
        api_filters("", "", "12/01/2026", "", SHANGHAI)


def test_a_board_card_takes_the_apis_overdue_and_at_risk():
    item = {"ref": "P0-1", "severity": "P0", "entity": "e", "title": "t",
            "response": {"state": "met"}, "overdue": True, "at_risk": False}
    assert card(item)["overdue"] and not card({**item, "overdue": False})["overdue"]
    assert card({**item, "overdue": False, "at_risk": True})["at_risk"]
