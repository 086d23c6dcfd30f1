"""Each measure of the rule language fires when it should and stays quiet otherwise, on
small hand-made series."""
from __future__ import annotations

import math

import numpy as np
import pytest

from services.detector.rules import Engine, MetricSpec, RuleSpec

HOUR, DAY = 3600.0, 86400.0
T0 = 19675 * DAY  # midnight UTC
METRIC = MetricSpec(name="store.orders", interval="1h", retention="400d")


def engine_with(when: dict, **fields) -> Engine:
    engine = Engine()
    spec = RuleSpec.model_validate({"name": "r", "metric": "store.orders", "severity": "P2",
                                    "when": when, **fields})
    engine.set_rule("r", spec, METRIC)
    return engine


def feed(engine: Engine, values, entity="store-1", labels=None, start=T0, step=HOUR):
    samples = [("store.orders", entity, labels or {}, start + i * step, v)
               for i, v in enumerate(values)]
    return engine.evaluate_samples(samples).transitions


def raised_at(transitions) -> list[int]:
    """Sample numbers (hours from T0) at which alerts were raised."""
    return [round((t.ts - T0) / HOUR) for t in transitions if t.kind == "raise"]


# -- value, graded by class ---------------------------------------------------------------------
def test_a_bound_graded_by_class_uses_the_series_class_or_the_default():
    engine = engine_with({"value": {}, "above": {"by": "size", "large": 50, "*": 10}})
    assert feed(engine, [40], "big", {"size": "large"}) == []
    assert raised_at(feed(engine, [60], "big", {"size": "large"}, start=T0 + HOUR)) == [1]
    assert raised_at(feed(engine, [40], "small", {"size": "small"})) == [0]  # "*" applies
    assert raised_at(feed(engine, [11], "plain")) == [0]                      # no label: "*"


def test_a_class_without_a_value_and_no_default_is_not_evaluated():
    engine = engine_with({"value": {}, "below": {"by": "size", "large": 50}})
    assert feed(engine, [1, 2, 3], "small", {"size": "small"}) == []
    transitions = feed(engine, [1], "big", {"size": "large"})
    assert [t.summary for t in transitions] == ["store.orders for big is 1: below 50 (by size)"]


# -- change --------------------------------------------------------------------------------
def test_change_vs_previous_in_percent_fires_on_a_drop():
    engine = engine_with({"change": {"reference": "previous", "unit": "pct"}, "below": -30})
    transitions = feed(engine, [100, 90, 60, 58])
    assert raised_at(transitions) == [2]
    assert transitions[0].summary == "store.orders for store-1 is 60: -33.3% vs previous, below -30"


def test_change_needs_the_reference_interval_itself():
    engine = engine_with({"change": {"reference": "previous"}, "below": -30})
    feed(engine, [100])
    assert feed(engine, [10], start=T0 + 2 * HOUR) == []  # hour 1 is missing: no reference


def test_min_base_keeps_tiny_bases_from_alerting():
    engine = engine_with({"change": {"reference": "previous", "min_base": 10}, "below": -50})
    assert feed(engine, [4, 1]) == []                    # -75% of a base of 4: not known
    assert raised_at(feed(engine, [100, 20], "big")) == [1]


def test_change_in_absolute_units_against_the_same_hour_yesterday():
    engine = engine_with({"change": {"reference": "day", "unit": "abs"}, "below": -5})
    values = [50.0] * 24 + [50, 44, 46] + [50.0] * 21
    values[1] = 49  # yesterday's hour 1 was 49: today's 44 is -5, not below -5
    values[2] = 52  # yesterday's hour 2 was 52: today's 46 is -6
    assert raised_at(feed(engine, values)) == [26]


# -- deviation -------------------------------------------------------------------------------
def _noisy(n, centre=100.0, spread=1.0, seed=3):
    return list(centre + spread * np.random.default_rng(seed).standard_normal(n))


@pytest.mark.parametrize("method", ["zscore", "mad", "ewma"])
def test_deviation_fires_on_an_outlier_and_not_on_noise(method):
    engine = engine_with({"deviation": {"method": method, "window": 20}, "outside": [-5, 5]},
                         clear_after=1)
    assert feed(engine, _noisy(40)) == []
    assert raised_at(feed(engine, [130], start=T0 + 40 * HOUR)) == [40]


def test_deviation_waits_for_min_samples():
    engine = engine_with({"deviation": {"method": "zscore", "window": 10, "min_samples": 6},
                          "above": 3})
    assert feed(engine, [10, 11, 10, 11, 500]) == []  # four earlier samples: not known yet
    assert raised_at(feed(engine, [10, 11, 10, 11, 10, 11, 500], "other")) == [6]


def test_a_flat_history_scores_zero_for_the_same_value_and_unknown_otherwise():
    fires_at_zero = engine_with({"deviation": {"window": 5}, "between": [-1, 1]})
    assert raised_at(feed(fires_at_zero, [7.0] * 6)) == [3]  # z = 0 once 3 samples are known
    fires_outside = engine_with({"deviation": {"window": 5}, "outside": [-1, 1]})
    assert feed(fires_outside, [7.0] * 5 + [9.0]) == []        # σ = 0 and a new value: unknown


def test_zscore_uses_only_the_window():
    engine = engine_with({"deviation": {"method": "zscore", "window": 5}, "above": 4})
    values = [1000.0, 0, 1000, 0, 1000] + [10, 11, 10, 11, 10] + [20]
    assert raised_at(feed(engine, values)) == [10]  # the early swings have left the window


def test_mad_is_robust_to_an_earlier_outlier():
    zscore = engine_with({"deviation": {"method": "zscore", "window": 10}, "above": 4})
    mad = engine_with({"deviation": {"method": "mad", "window": 10}, "above": 4})
    values = [10, 11, 10, 12, 11, 500, 10, 11, 12, 10, 25]
    assert raised_at(feed(mad, values))[-1:] == [10]
    assert 10 not in raised_at(feed(zscore, values))   # the 500 inflated σ


# -- peers ---------------------------------------------------------------------------------
def _region(engine, values_by_entity, hour, region="north"):
    samples = [("store.orders", entity, {"region": region}, T0 + hour * HOUR + i, v)
               for i, (entity, v) in enumerate(values_by_entity.items())]
    return engine.evaluate_samples(samples).transitions


def test_an_entity_far_below_its_peers_fires():
    engine = engine_with({"peer": {"group_by": "region", "min_peers": 3}, "below": -3})
    peers = {"a": 100, "b": 102, "c": 98, "d": 101}
    assert _region(engine, {**peers, "e": 99}, 0) == []
    transitions = _region(engine, {**peers, "e": 20}, 1)
    assert [t.entity for t in transitions] == ["e"]
    assert "from its peers by region" in transitions[0].summary


def test_peers_need_min_peers_in_the_same_interval_and_the_same_group():
    engine = engine_with({"peer": {"group_by": "region", "min_peers": 3}, "below": -3})
    assert _region(engine, {"a": 100, "b": 102, "e": 20}, 0) == []           # two peers
    _region(engine, {"x": 100, "y": 100, "z": 100}, 0, region="south")
    assert _region(engine, {"a": 100, "b": 102, "e": 20}, 0.5) == []         # south is not a peer
    _region(engine, {"c": 98}, 3)                                             # c: a later interval
    assert _region(engine, {"a": 100, "b": 102, "e": 20}, 1) == []


def test_samples_of_one_interval_in_separate_batches_still_see_each_other():
    engine = engine_with({"peer": {"group_by": "region", "min_peers": 3}, "below": -3})
    _region(engine, {"a": 100, "b": 102, "c": 98, "d": 101}, 0)
    assert [t.entity for t in _region(engine, {"e": 20}, 0.5)] == ["e"]


def test_peer_in_percent_compares_with_the_regions_mean():
    # Seed 001: 与区域均值偏离 > 30% — a store 30% off its region's mean, either way.
    engine = engine_with({"peer": {"group_by": "region", "unit": "pct"},
                          "outside": [-30, 30]})
    peers = {"a": 100, "b": 110, "c": 90}   # mean 100, σ ≈ 8: 25 off is −3σ but only −25%
    assert _region(engine, {**peers, "e": 75}, 0) == []
    transitions = _region(engine, {**peers, "e": 65}, 1)
    assert [t.entity for t in transitions] == ["e"]
    assert "-35.0% from its peers' mean by region, outside -30 and 30" in transitions[0].summary
    assert [t.entity for t in _region(engine, {**peers, "e": 140}, 2)] == []  # still firing
    assert _region(engine, {**peers, "e": 100}, 3)[0].kind == "resolve"


def test_peer_in_percent_is_unknown_over_a_zero_mean():
    engine = engine_with({"peer": {"group_by": "region", "unit": "pct"}, "above": 30})
    assert _region(engine, {"a": 0, "b": 0, "c": 0, "e": 5}, 0) == []


# -- streak -------------------------------------------------------------------------------------
@pytest.mark.parametrize("direction, values, fires_at", [
    ("down", [10, 9, 8, 9, 8, 7, 6], [6]),
    ("up", [1, 2, 3, 3, 4, 5, 6, 7], [6]),
    ("down", [5, 5, 5, 5, 5], []),
])
def test_streak_counts_moves_in_a_row(direction, values, fires_at):
    engine = engine_with({"streak": {"direction": direction}, "at_least": 3})
    assert raised_at(feed(engine, values)) == fires_at


# -- forecast -------------------------------------------------------------------------------------
def test_forecast_learns_a_daily_cycle_and_catches_a_late_level_drop():
    engine = engine_with({"forecast": {"season": "1d", "seasons": 2}, "below": -4})
    hours = np.arange(24 * 14)
    rng = np.random.default_rng(11)
    values = 100 + 30 * np.sin(2 * math.pi * hours / 24) + rng.normal(0, 1, len(hours))
    values[24 * 12 + 5:] -= 25  # day 12, 05:00: the level drops
    fired = raised_at(feed(engine, values))
    assert fired and fired[0] == 24 * 12 + 5
    assert all(h >= 24 * 12 + 5 for h in fired)


def test_forecast_is_not_known_before_its_seasons():
    engine = engine_with({"forecast": {"season": "1d", "seasons": 3}, "below": -4})
    values = [100.0] * 24 * 2 + [10.0]
    assert feed(engine, values) == []


# -- missing (by the clock) --------------------------------------------------------------------
def test_missing_fires_by_the_clock_and_resolves_on_the_next_sample():
    engine = engine_with({"missing": {"after": "2h"}})
    feed(engine, [5, 6])                          # last sample at T0 + 1h
    assert engine.tick(T0 + 2.5 * HOUR) == []     # 1.5h without a sample
    late = engine.tick(T0 + 3.5 * HOUR)
    assert [(t.kind, t.value) for t in late] == [("raise", None)]
    assert late[0].summary == "store.orders for store-1: no sample for 2h30m"
    assert engine.tick(T0 + 4 * HOUR) == []       # still firing: no new raise
    back = feed(engine, [7], start=T0 + 5 * HOUR)
    assert [t.kind for t in back] == ["resolve"]


def test_missing_needs_a_first_sample():
    engine = engine_with({"missing": {"after": "1h"}})
    engine.series("store.orders", "silent", {})
    assert engine.tick(T0 + 10 * HOUR) == []


# -- composites ---------------------------------------------------------------------------------
def test_all_any_not_and_refs_combine_with_unknown_never_holding():
    engine = engine_with({"all": [
        {"ref": "dod", "below": -20},                         # the ref's bound overrides -90
        {"any": [{"value": {}, "below": 50}, {"not": {"value": {}, "above": 1000}}]},
        {"not": {"ref": "grew"}},
    ]}, conditions={"dod": {"change": {"reference": "previous"}, "below": -90},
                    "grew": {"change": {"reference": "previous"}, "above": 0}})
    transitions = feed(engine, [100, 70])
    assert raised_at(transitions) == [1]
    assert transitions[0].summary == ("store.orders for store-1 is 70: -30.0% vs previous, "
                                      "below -20 and not (above 1000) and "
                                      "not (-30.0% vs previous, above 0)")
    # The first sample has no reference: `not` of an unknown change does not hold either.
    only_not = engine_with({"not": {"change": {"reference": "previous"}, "above": 0}})
    assert raised_at(feed(only_not, [100, 90])) == [1]


# -- adaptive -------------------------------------------------------------------------------------
def test_adaptive_uses_the_scorer_and_its_threshold_by_default():
    adaptive = pytest.importorskip("services.detector.adaptive")
    engine = engine_with({"adaptive": {}})
    values = _noisy(300, spread=1.0) + [160.0]
    fired = raised_at(feed(engine, values))
    assert fired and fired[-1] == 300, f"threshold {adaptive.ANOMALY_THRESHOLD}"


def test_adaptive_is_wired_to_one_scorer_per_series(monkeypatch):
    import sys
    import types

    class Scorer:  # stands in for services.detector.adaptive until it lands
        def __init__(self):
            self.seen = 0

        def update(self, value, ts):
            self.seen += 1
            return float("nan") if self.seen < 3 else (0.99 if value > 150 else 0.1)

    fake = types.ModuleType("services.detector.adaptive")
    fake.AdaptiveScorer, fake.ANOMALY_THRESHOLD = Scorer, 0.9
    monkeypatch.setitem(sys.modules, "services.detector.adaptive", fake)
    engine = engine_with({"adaptive": {}})
    assert raised_at(feed(engine, [200, 100, 100, 100, 200])) == [4]  # warm-up: not known
    assert raised_at(feed(engine, [100, 100, 200], "other")) == [2]   # its own scorer
