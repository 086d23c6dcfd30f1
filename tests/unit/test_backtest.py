"""Backtesting: scores worked out by hand on small synthetic histories, the sweep's
recommendation, the CSV and window readers, and one replay of a real NAB series."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.detector.rules import MetricSpec, RuleSpec
from services.detector.rules.backtest import (AlertSpan, Replay, Window, bound_paths,
                                              read_samples_csv, read_windows, replay, score,
                                              spans_from_transitions, sweep)
from services.detector.rules.backtest.sweep import default_candidates, measure_at, recommend

HOUR, DAY = 3600.0, 86400.0
NAB = Path("/work/shared/data/nab-dev")


# --- scoring ---------------------------------------------------------------------------

def test_scores_match_a_hand_computed_example():
    windows = [Window(10_000, 20_000, "a"), Window(100_000, 110_000), Window(200_000, 210_000, "b")]
    alerts = [AlertSpan("a", "P1", 12_000, 13_000, ""),   # true, first in window 1: delay 2000
              AlertSpan("a", "P1", 15_000, None, ""),     # true, window 1 already detected
              AlertSpan("b", "P1", 12_000, None, ""),     # false: window 1 is a's only
              AlertSpan("c", "P2", 104_000, None, ""),    # true: entity-less window 2, delay 4000
              AlertSpan("b", "P1", 199_999, None, ""),    # false: one second before window 3
              AlertSpan("a", "P1", 20_000, None, ""),     # true: windows are inclusive
              AlertSpan("b", "P1", 300_000, None, "")]    # false
    scores = score(Replay(alerts, suppressed=2, samples=96, rejected=0, start=0.0,
                          end=4 * DAY, interval=HOUR), windows)
    assert (scores.alerts, scores.true_alerts, scores.false_alerts) == (7, 4, 3)
    assert (scores.windows, scores.detected_windows) == (3, 2)
    assert scores.precision == pytest.approx(4 / 7)
    assert scores.false_positive_rate == pytest.approx(3 / 7)
    assert scores.miss_rate == pytest.approx(1 / 3)
    assert scores.detection_delay == {"mean": 3000, "median": 3000,
                                      "p90": pytest.approx(3800), "max": 4000}
    assert scores.days == 4 and scores.alerts_per_day == 1.75 and scores.suppressed == 2
    json.dumps(scores.to_json())   # an HTTP API returns it as is


def test_without_alerts_or_windows_the_rates_are_unknown_not_zero():
    scores = score(Replay([], 0, 10, 0, 0.0, 2 * DAY, HOUR), [])
    assert scores.precision is None and scores.false_positive_rate is None
    assert scores.miss_rate is None
    assert scores.detection_delay == {"mean": None, "median": None, "p90": None, "max": None}
    missed = score(Replay([], 0, 10, 0, 0.0, 2 * DAY, HOUR), [Window(0, 10)])
    assert missed.miss_rate == 1.0 and missed.alerts_per_day == 0


def test_a_single_sample_counts_as_one_interval_not_zero_days():
    one = Replay([AlertSpan("a", "P1", 5.0, None, "")], 0, 1, 0, 5.0, 5.0, interval=DAY)
    assert score(one, []).days == 1 and score(one, []).alerts_per_day == 1


# --- transitions to alert spans -----------------------------------------------------------

class FakeTransition:
    """Shaped like engine.Transition (only the fields the backtest reads)."""
    def __init__(self, kind: str, entity: str, ts: float, severity: str | None = "P1"):
        self.kind, self.entity, self.ts, self.severity = kind, entity, ts, severity
        self.summary = f"{kind} {entity}"


def test_transitions_become_spans_and_suppressions_are_counted():
    alerts, suppressed = spans_from_transitions([
        FakeTransition("raise", "a", 1), FakeTransition("raise", "b", 2, "P2"),
        FakeTransition("resolve", "a", 5), FakeTransition("suppress", "a", 6),
        FakeTransition("raise", "a", 7, "P2")])
    assert [(a.entity, a.severity, a.start, a.end) for a in alerts] == [
        ("a", "P1", 1, 5), ("b", "P2", 2, None), ("a", "P2", 7, None)]
    assert suppressed == 1 and alerts[0].summary == "raise a"


# --- the sweep's choice -----------------------------------------------------------------

def row(bound, miss, fpr, per_day, delay=None):
    return {"bound": bound, "miss_rate": miss, "false_positive_rate": fpr,
            "alerts_per_day": per_day, "detection_delay": {"mean": delay}}


def test_recommends_the_quietest_row_meeting_both_targets_then_the_fastest():
    rows = [row(30, 0.0, 0.1, 2.0, 600), row(40, 0.0, 0.0, 1.0, 1200),
            row(50, 0.0, 0.0, 1.0, 300), row(60, 0.0, 0.5, 0.5, 0)]
    best, reason = recommend(rows, "when.below", 0.2, 0.05)
    assert best["bound"] == 50
    assert reason.startswith("below 50 meets both targets (0% misses and 0% false positives)")


def test_names_the_unreachable_target_and_the_closest_setting():
    too_many_misses = [row(30, 0.5, 0.0, 1), row(40, 0.12, 0.3, 2), row(50, 0.2, 0.1, 3)]
    best, reason = recommend(too_many_misses, "when.below", 0.2, 0.05)
    assert best is None
    assert reason == ("no setting keeps misses under 5%: the best is below 40 with 12% misses "
                      "and 30% false positives")
    too_many_false = [row(3, 0.0, 0.6, 1), row(4, 0.04, 0.4, 2)]
    _, reason = recommend(too_many_false, "bands.0.when.above", 0.2, 0.05)
    assert reason.startswith("no setting keeps false positives under 20%: the best is above 4 ")
    never_both = [row(1, 0.0, 0.5, 1), row(2, 0.5, 0.0, 1), row(3, 0.1, 0.3, 1)]
    _, reason = recommend(never_both, "when.between.0", 0.2, 0.05)
    assert reason.startswith("no setting keeps both misses under 5% and false positives under 20%")
    assert "between [3, …]" in reason


def test_finds_bounds_by_path_and_spreads_candidates_in_the_measure_s_units():
    form = {"name": "r", "conditions": {"dod": {"change": {"reference": "previous"}}},
            "bands": [{"level": "P1", "when": {"all": [{"ref": "dod", "below": -30},
                                                         {"value": {}, "below": 50}]}},
                      {"level": "P2", "when": {"ref": "dod", "between": [-30, -20]}}]}
    assert list(bound_paths(form)) == ["bands.0.when.all.0.below", "bands.0.when.all.1.below",
                                       "bands.1.when.between.0", "bands.1.when.between.1"]
    assert measure_at(form, "bands.0.when.all.0.below") == "change"
    assert measure_at(form, "bands.0.when.all.1.below") == "value"
    values = default_candidates(form, "bands.0.when.all.1.below", 50, list(range(101)))
    assert 20 <= len(values) <= 26 and values[0] == 1 and values[-1] == 99 and 50 in values
    spread = default_candidates(form, "bands.0.when.all.0.below", -30, [])
    assert min(spread) == -75 and max(spread) == -7.5 and -30 in spread
    streak = {"when": {"streak": {"direction": "down"}, "at_least": 3}}
    assert default_candidates(streak, "when.at_least", 3, []) == [1, 2, 3, 4, 5, 6]


# --- reading history ----------------------------------------------------------------------

def test_reads_nab_csv():
    samples = read_samples_csv("timestamp,value\n2014-07-01 00:00:00,10844\n"
                               "2014-07-01 00:30:00,8127.5\n", metric="nyc.taxi")
    assert samples == [("nyc.taxi", "default", {}, 1404172800.0, 10844.0),
                       ("nyc.taxi", "default", {}, 1404174600.0, 8127.5)]
    named = read_samples_csv("timestamp,value\n1404172800,1\n", metric="m", entity="taxi")
    assert named == [("m", "taxi", {}, 1404172800.0, 1.0)]


def test_reads_headerless_rows_with_entity_and_labels():
    text = ("2026-03-01T00:00:00Z,store-1,41,region=north,format=mall\n"
            "2026-03-02T00:00:00+01:00,store-2,42\n")
    samples = read_samples_csv(text, metric="store.orders.daily")
    assert samples[0] == ("store.orders.daily", "store-1", {"region": "north", "format": "mall"},
                          1772323200.0, 41.0)
    assert samples[1] == ("store.orders.daily", "store-2", {}, 1772409600.0 - 3600, 42.0)


def test_reads_header_named_columns_and_label_lists():
    text = ("# exported from the warehouse\n"
            "metric,entity,timestamp,value,labels,format\n"
            "store.nps.daily,store-1,2026-03-01,61,region=north;tier=a,mall\n"
            ",,1772409600,58,,\n")
    samples = read_samples_csv(text, metric="store.nps.daily", entity="store-9")
    assert samples == [
        ("store.nps.daily", "store-1", {"format": "mall", "region": "north", "tier": "a"},
         1772323200.0, 61.0),
        ("store.nps.daily", "store-9", {}, 1772409600.0, 58.0)]


@pytest.mark.parametrize("text, message", [
    ("timestamp,value\n2014-07-01,1\n\nyesterday,2\n", "line 4: timestamp 'yesterday' is not a time; use ISO 8601"),
    ("timestamp,value\n2014-07-01,1\n2014-07-02,abc\n", "line 3: value 'abc' is not a number"),
    ("timestamp,value\n2014-07-01\n", "line 2: expected 2 columns (timestamp,value), got 1"),
    ("2014-07-01\n", "line 1: expected timestamp,value or timestamp,entity,value"),
    ("2014-07-01,s1,5,north\n", "line 1: label 'north' is not key=value; write labels as region=north"),
    ("1404172800000,5\n", "line 1: timestamp '1404172800000' looks like milliseconds; give epoch seconds"),
    ("when,count\n2014-07-01,5\n", "line 1: timestamp 'when' is not a time"),
    ("time,entity,amount\n2014-07-01,a,5\n", "line 1: the header 'time,entity,amount' has no 'value' column"),
])
def test_bad_rows_name_the_line_and_the_fix(text, message):
    with pytest.raises(ValueError) as raised:
        read_samples_csv(text, metric="m")
    assert str(raised.value).startswith(message)


def test_reads_windows_in_both_shapes():
    nab = [["2014-10-30 15:30:00.000000", "2014-11-03 22:30:00.000000"]]
    assert read_windows(nab) == [Window(1414683000.0, 1415053800.0)]
    listed = read_windows([{"start": 10, "end": 20, "entity": "store-1"},
                           {"start": "1970-01-01T00:00:30Z", "end": 40}])
    assert listed == [Window(10, 20, "store-1"), Window(30, 40)]
    assert read_windows(json.dumps(nab)) == read_windows(nab)
    with pytest.raises(ValueError, match="window 1: starts after it ends"):
        read_windows([[1, 2], [5, 3]])
    with pytest.raises(ValueError, match="window 0: needs both start and end"):
        read_windows([{"start": 1}])


# --- replaying and sweeping with the engine ------------------------------------------------

HOURLY = MetricSpec(name="shop.load", interval="1h")
ANOMALIES = (50, 120, 200)      # first hour of each labelled dip: 40, then 20 for three hours
NOISE = (30, 90, 150)           # harmless one-hour dips to 70


def hourly_history() -> list[tuple]:
    values = [100.0] * 240
    for hour in ANOMALIES:
        values[hour:hour + 4] = [40.0, 20.0, 20.0, 20.0]
    for hour in NOISE:
        values[hour] = 70.0
    return [("shop.load", "shop-1", {}, i * HOUR, v) for i, v in enumerate(values)]


def dip_windows() -> list[Window]:
    return [Window(h * HOUR, (h + 3) * HOUR, "shop-1") for h in ANOMALIES]


def low_load(bound: float) -> RuleSpec:
    return RuleSpec.model_validate({"name": "low-load", "metric": "shop.load", "severity": "P1",
                                    "when": {"value": {}, "below": bound}})


def test_replay_turns_transitions_into_alert_spans():
    history = hourly_history()
    history.append(("shop.load", "shop-1", {}, 5 * HOUR, 1.0))   # a duplicate time: refused
    history.append(("other.metric", "shop-1", {}, 500 * HOUR, 1.0))   # not watched: ignored
    result = replay(low_load(50), history, HOURLY)
    assert [(a.entity, a.severity, a.start, a.end) for a in result.alerts] == [
        ("shop-1", "P1", h * HOUR, (h + 4) * HOUR) for h in ANOMALIES]
    assert (result.samples, result.rejected, result.suppressed) == (241, 1, 0)
    assert (result.start, result.end, result.interval) == (0.0, 239 * HOUR, HOUR)
    assert json.loads(json.dumps(result.to_json()))["alerts"][0]["severity"] == "P1"


def test_replay_ticks_the_clock_for_missing_data_rules():
    hours = [*range(0, 11), *range(16, 21)]           # silent from 10:00 to 16:00
    history = [("shop.load", "shop-1", {}, h * HOUR, 100.0) for h in hours]
    silent = RuleSpec.model_validate({"name": "silent", "metric": "shop.load", "severity": "P2",
                                      "when": {"missing": {"after": "2h"}}})
    result = replay(silent, history, HOURLY)
    assert len(result.alerts) == 1
    alert = result.alerts[0]
    assert 12 * HOUR <= alert.start <= 13 * HOUR and alert.end == 16 * HOUR

def test_sweep_recommends_the_bound_that_catches_every_dip_first_and_nothing_else():
    result = sweep(low_load(10), hourly_history(), dip_windows(), candidates=[10, 30, 50, 80, 101],
                   metric=HOURLY)
    by_bound = {r["bound"]: r for r in result.rows}
    assert by_bound[10]["miss_rate"] == 1 and by_bound[10]["alerts"] == 0
    assert by_bound[30]["detection_delay"]["mean"] == HOUR      # caught at the second hour
    assert by_bound[80]["false_positive_rate"] == 0.5           # the noise dips too
    assert result.path == "when.below" and result.recommended["bound"] == 50
    assert result.recommended["detection_delay"]["mean"] == 0
    assert result.reason.startswith("below 50 meets both targets (0% misses and 0% false positives)")
    json.dumps(result.to_json())


def test_sweep_says_why_when_no_setting_meets_the_targets():
    unlabelled_dip = Window(170 * HOUR, 175 * HOUR, "shop-1")   # nothing happens there
    result = sweep(low_load(50), hourly_history(), [*dip_windows(), unlabelled_dip],
                   path="when.below", candidates=[10, 30, 50, 80], metric=HOURLY)
    assert result.recommended is None
    assert result.reason == ("no setting keeps misses under 5%: the best is below 30 with "
                             "25% misses and 0% false positives")


def test_sweep_default_candidates_and_invalid_candidates():
    result = sweep(low_load(50), hourly_history(), dip_windows(), metric=HOURLY)
    bounds = [r["bound"] for r in result.rows]
    assert 20 in bounds and 50 in bounds and max(bounds) == 100   # quantiles of the values
    assert result.recommended is not None and 40 < result.recommended["bound"] <= 70
    banded = RuleSpec.model_validate({"name": "graded", "metric": "shop.load", "bands": [
        {"level": "P1", "when": {"value": {}, "below": 30}},
        {"level": "P2", "when": {"value": {}, "between": [30, 50]}}]})
    rows = sweep(banded, hourly_history(), dip_windows(), candidates=[25, 40],
                 metric=HOURLY).rows
    assert "error" not in rows[0] and "overlap" in rows[1]["error"]


@pytest.mark.skipif(not (NAB / "data").is_dir(), reason=f"NAB data not present at {NAB}")
def test_a_zscore_rule_over_nab_nyc_taxi_gives_sane_numbers():
    text = (NAB / "data/realKnownCause/nyc_taxi.csv").read_text()
    samples = read_samples_csv(text, metric="nyc.taxi", entity="nyc_taxi")
    labels = json.loads((NAB / "labels/combined_windows.json").read_text())
    windows = read_windows(labels["realKnownCause/nyc_taxi.csv"])
    rule = RuleSpec.model_validate({
        "name": "taxi-unusual", "metric": "nyc.taxi", "severity": "P2", "clear_after": 48,
        "when": {"deviation": {"method": "zscore", "window": 336}, "outside": [-2.5, 2.5]}})
    result = replay(rule, samples, MetricSpec(name="nyc.taxi", interval="30m"))
    scores = score(result, windows)
    assert (result.samples, result.rejected) == (10320, 0)
    assert scores.days == pytest.approx(10319 / 48)
    assert scores.windows == 5 and scores.detected_windows >= 1
    assert 0 < scores.alerts < 100 and scores.alerts_per_day < 0.5
    assert 0 < scores.precision <= 1 and 0 <= scores.miss_rate < 1
    assert 0 <= scores.detection_delay["mean"] <= scores.detection_delay["max"] <= 5 * DAY
