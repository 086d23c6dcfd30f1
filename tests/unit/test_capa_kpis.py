"""The CAPA KPIs' arithmetic and the management review's wording, on figures chosen by hand:
a rate of nothing is no rate, ages fall in the bucket below their bound, the CSV has one row
per group and KPI, and the review says the numbers a reader needs."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from services.capa.kpis.formulas import (
    AGE_BUCKETS, CSV_COLUMNS, age_bucket, csv_text, kpi, mean_hours, rate,
)
from services.capa.kpis.projection import CapaKpis
from services.capa.kpis.review import markdown, summary


def test_a_rate_is_numerator_over_denominator_and_none_when_nothing_was_counted():
    assert rate(1, 3) == 0.3333
    assert rate(2, 2) == 1.0
    assert rate(0, 4) == 0.0
    assert rate(0, 0) is None
    assert kpi(0, 0) == {"numerator": 0, "denominator": 0, "value": None}


def test_mean_time_to_closure_is_in_hours_and_none_without_closures():
    assert mean_hours(timedelta(days=4, hours=2), 2) == 49.0
    assert mean_hours(timedelta(minutes=20), 1) == 0.33
    assert mean_hours(None, 0) is None
    assert mean_hours(timedelta(0), 0) is None


@pytest.mark.parametrize("age, bucket", [
    (timedelta(0), "0-7d"), (timedelta(days=7) - timedelta(seconds=1), "0-7d"),
    (timedelta(days=7), "7-30d"), (timedelta(days=29, hours=23), "7-30d"),
    (timedelta(days=30), "30-90d"), (timedelta(days=90), "90d+"), (timedelta(days=400), "90d+"),
])
def test_an_open_action_falls_in_the_bucket_below_its_age(age, bucket):
    assert age_bucket(age) == bucket
    assert [label for label, _ in AGE_BUCKETS] == ["0-7d", "7-30d", "30-90d", "90d+"]


def test_the_csv_has_one_row_per_group_and_kpi_with_an_empty_cell_for_no_rate():
    text = csv_text([{"key": "all", "kpis": {"on_time_rate": kpi(1, 3)}},
                     {"key": "store, 2", "kpis": {"on_time_rate": kpi(0, 0),
                                                  "open_actions": {"numerator": 2,
                                                                   "denominator": None,
                                                                   "value": 2}}}])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [list(CSV_COLUMNS), ["all", "on_time_rate", "1", "3", "0.3333"],
                    ["store, 2", "on_time_rate", "0", "0", ""],
                    ["store, 2", "open_actions", "2", "", "2"]]


def _figures(**given):
    base = {name: kpi(0, 0) for name in ("on_time_rate", "verification_first_pass_rate",
                                         "effectiveness_pass_rate", "recurrence_rate")}
    base["mean_time_to_closure_hours"] = {"numerator": 0, "denominator": 0, "value": None}
    base["open_actions"] = base["open_actions_overdue"] = {"numerator": 0, "denominator": None,
                                                           "value": 0}
    return {**base, **given}


def test_the_review_tells_the_headline_figures_overdue_owners_and_recurring_entities():
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    by_category = {
        "from": start, "to": start + timedelta(days=30), "as_of": start + timedelta(days=5),
        "overall": _figures(on_time_rate=kpi(3, 4), recurrence_rate=kpi(1, 5),
                            mean_time_to_closure_hours={"numerator": 60.0, "denominator": 2,
                                                        "value": 30.0},
                            open_actions={"numerator": 3, "denominator": None, "value": 3},
                            open_actions_overdue={"numerator": 1, "denominator": None,
                                                  "value": 1}),
        "groups": [{"key": "method", "kpis": _figures(on_time_rate=kpi(1, 2))}],
        "open_actions_by_owner": [{"owner": "dave", "open": 2, "overdue": 1, "age": {}},
                                  {"owner": "alice", "open": 1, "overdue": 0, "age": {}}],
        "notes": ["systemic_problems is not reported"],
    }
    by_entity = {"groups": [
        {"key": "store-1", "kpis": _figures(recurrence_rate=kpi(0, 3))},
        {"key": "store-2", "kpis": _figures(recurrence_rate=kpi(1, 2))}]}
    review = summary(by_category, by_entity)
    assert review["overdue_by_owner"] == [{"owner": "dave", "overdue": 1, "open": 2}]
    assert review["recurring_entities"] == [{"entity": "store-2", "recurred": 1, "cases": 2}]
    text = markdown(review)
    assert text.startswith("# CAPA management review 2026-11-01 – 2026-12-01\n")
    assert "| CAPA actions on time | 75.0 % | 3 of 4 |" in text
    assert "| Recurrence rate | 20.0 % | 1 of 5 |" in text
    assert "| Verification first-pass rate | — | 0 of 0 |" in text
    assert "| Mean time to closure | 30 h | 2 closed |" in text
    assert "Open actions: 3, of which overdue: 1." in text
    assert "- dave: 1 overdue of 2 open" in text and "alice" not in text
    assert "- store-2: 1 of 2 cases recurred" in text and "store-1" not in text
    assert "| method | 50.0 % | — | — | — |" in text
    assert "- systemic_problems is not reported" in text


def test_the_kpi_read_model_is_versioned_apart_from_the_case_list():
    projection = CapaKpis()
    assert set(projection.tables) == {"capa_kpi_cases", "capa_kpi_actions", "capa_kpi_units"}
    assert projection.version_schema("capa").startswith("capa__capa_kpis__")


def test_an_incident_keeps_its_unit_path_once_and_a_new_path_replaces_it():
    from datetime import datetime, timezone

    from services.capa.units.placement import IncidentUnit

    at = datetime(2026, 11, 2, tzinfo=timezone.utc)
    south = [{"key": "hq", "name": "总部"}, {"key": "south", "name": "华南区"},
             {"key": "sz-baoan", "name": "深圳宝安店"}]
    unit = IncidentUnit(incident_id="inc-1", at=at, actor="capa", cause={})
    assert unit.place(south, at, "capa", {}) is True
    assert unit.place([dict(u) for u in south], at, "capa", {}) is False  # re-staffed: same
    moved = south[:2] + [{"key": "sz-futian"}]  # a unit without a name reads as its key
    assert unit.place(moved, at, "capa", {}) is True
    assert unit.unit_path[-1] == {"key": "sz-futian", "name": "sz-futian"}
    assert [type(e).__name__ for e in unit.collect_events()] == ["Started", "Placed", "Placed"]
    assert IncidentUnit.create_id("inc-1") == unit.id
