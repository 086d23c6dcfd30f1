"""The board's pure parts: search grams for Chinese and English, the filters' SQL, the
cursor, the response timeliness of a card, export rows, and the unit path the notifier puts
on IncidentStaffed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.contracts import IncidentStaffed
from shared.errors import Invalid

from services.incidents.board_export import cells, headers
from services.incidents.board_filters import (
    Params, ViewFilters, after_cursor, decode_cursor, encode_cursor,
)
from services.incidents.board_queries import planned_from, response_of
from services.incidents.board_search import grams, like_pattern, query_grams, terms
from services.notifier.raci.rules import normalised
from services.notifier.raci.staffing import Staffing, find_people
from services.notifier.translate import to_contract
from tests.unit.test_raci import SEED, chart

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


# -- search -----------------------------------------------------------------------------------
def test_chinese_text_keeps_every_character_and_neighbouring_pair_and_english_its_words():
    keys = grams("深圳宝安店 POS-Timeout")
    assert {"宝安", "深圳", "安店", "宝", "pos", "timeout"} <= set(keys)
    assert "圳安" not in keys  # only neighbours


def test_a_query_needs_the_pairs_of_its_chinese_and_leaves_latin_to_the_trigram_index():
    assert query_grams("宝安") == ["宝安"]
    assert set(query_grams("宝安店")) == {"宝安", "安店"}
    assert query_grams("店") == ["店"]
    assert query_grams("rollback") == []
    assert set(query_grams("支付gateway超时")) == {"支付", "超时"}


def test_terms_are_normalised_words_and_like_characters_are_plain():
    assert terms("  宝安  ＴＩＭＥＯＵＴ ") == ["宝安", "timeout"]
    assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"


def test_the_grams_of_a_query_term_are_among_the_grams_of_a_text_holding_it():
    text = "广州天河店 收银机黑屏 已联系支付网关"
    stored = set(grams(text))
    for term in ("天河", "收银机", "支付网关", "黑", "河店"):
        assert set(query_grams(term)) <= stored, term


# -- filters and cursor -------------------------------------------------------------------------
def test_filters_become_parameterised_sql():
    p = Params()
    where = ViewFilters(unit="south", owner="li", overdue=True, q="宝安 rollback").where(p, T0)
    sql = " AND ".join(where)
    assert "c.unit_keys @> ARRAY[$1]" in sql and "i.responsible = $2" in sql
    # 宝安 is its own gram (holding it is holding the word); rollback is a substring.
    assert "search_grams @>" in sql and sql.count("LIKE") == 1
    assert p.values[:3] == ["south", "li", T0]
    assert "'" not in sql.replace("'archived'", "")  # values travel as parameters only


def test_a_cursor_round_trips_and_a_forged_one_is_refused_naming_the_field():
    cursor = encode_cursor(T0, "P0-2026-12-001")
    assert decode_cursor(cursor) == (T0, "P0-2026-12-001")
    p = Params()
    assert after_cursor(cursor, p) == ["(i.opened_at, i.ref) < ($1, $2)"]
    with pytest.raises(Invalid) as refused:
        decode_cursor("bm90IGpzb24")
    assert refused.value.field == "cursor"


# -- cards -----------------------------------------------------------------------------------
def row(**values):
    base = {"opened_at": T0, "respond_by": T0 + timedelta(minutes=15), "acknowledged_at": None,
            "resolved_at": None, "respond_breached": False, "planned_close_at": None,
            "close_by": None}
    return {**base, **values}


def test_the_response_is_met_missed_or_pending_with_the_time_it_took():
    met = response_of(row(acknowledged_at=T0 + timedelta(minutes=3)), T0 + timedelta(hours=1))
    assert (met["state"], met["seconds"]) == ("met", 180.0)
    late = response_of(row(acknowledged_at=T0 + timedelta(minutes=20)), T0)
    assert (late["state"], late["seconds"]) == ("missed", 1200.0)
    waiting = response_of(row(), T0 + timedelta(minutes=5))
    assert (waiting["state"], waiting["seconds"]) == ("pending", 300.0)
    assert response_of(row(), T0 + timedelta(minutes=16))["state"] == "missed"
    assert response_of(row(resolved_at=T0 + timedelta(minutes=2)), T0)["state"] == "met"


def test_the_planned_closure_says_where_it_comes_from():
    assert planned_from(row(planned_close_at=T0)) == "set"
    assert planned_from(row(close_by=T0)) == "sla close target"
    assert planned_from(row()) == "sla resolve target"


def test_an_export_row_has_the_seeds_fields_under_chinese_or_english_headers():
    card = {"ref": "P1-2026-12-001", "opened_at": T0, "entity": "深圳宝安店",
            "unit": {"key": "sz", "name": "深圳宝安店"}, "region": {"key": "s", "name": "华南区"},
            "severity": "P1", "title": "收银机黑屏", "description": "", "type": None,
            "source": "phone", "responsible": "li", "status": "new", "status_label": "新建",
            "response": {"state": "missed", "seconds": 1800.0}, "planned_close_at": T0,
            "closed_at": None}
    assert headers("zh")[:2] == ["编号", "发现时间"] and headers("en")[:2] == ["ID", "Opened at"]
    zh, en = cells(card, "zh"), cells(card, "en")
    assert zh[:5] == ["P1-2026-12-001", T0.isoformat(), "深圳宝安店", "深圳宝安店", "华南区"]
    assert ("新建", "超时", 30.0) == (zh[11], zh[12], zh[13])
    assert ("new", "missed") == (en[11], en[12]) and zh[-1] == ""


# -- the unit path, from the notifier --------------------------------------------------------
def test_the_notifier_tells_the_units_from_the_root_down_to_the_entitys():
    found = find_people(chart(), "store-017", None, normalised(SEED, None)[0]["P0"])
    assert found.unit_path == [{"key": "hq", "name": "总部"}, {"key": "south", "name": "华南战区"},
                               {"key": "store-017", "name": "深圳宝安店"}]
    staffing = Staffing.record(
        incident={"incident_id": "inc-1", "ref": "P0-2026-12-001", "severity": "P0",
                  "title": "收银机黑屏", "entity": "store-017"},
        found=found, at=T0, actor="notifier", cause={})
    [event] = staffing.collect_events()
    contract = to_contract(event)
    assert isinstance(contract, IncidentStaffed)
    assert [u["name"] for u in contract.unit_path] == ["总部", "华南战区", "深圳宝安店"]
    nowhere = find_people(chart(), "unknown-pos", None, {"responsible": ["店长"]})
    assert nowhere.unit_path == []
