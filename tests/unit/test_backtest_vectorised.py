"""The along-time replay gives exactly the engine's alerts: same raises, resolves and
suppressions at the same times with the same summaries, on many rule kinds and random series."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from services.detector.rules import MetricSpec, RuleSpec
from services.detector.rules.backtest import replay
from services.detector.rules.backtest.progress import Cancelled, Progress
from services.detector.rules.backtest.replay import Prepared
from services.detector.rules.backtest.vectorised import vectorisable

METRIC = MetricSpec(name="m", interval="1m", retention="35d")

RULES = [
    {"when": {"value": {}, "above": 1.0}},
    {"when": {"value": {}, "outside": [-1.0, 1.2]}, "for": 3, "clear_after": 2},
    {"when": {"value": {}, "above": 0.5}, "for": "3m", "clear_after": "4m"},
    {"bands": [{"level": "P1", "when": {"value": {}, "above": 1.5}},
               {"level": "P3", "when": {"value": {}, "between": [0.8, 1.5]}}]},
    {"when": {"change": {"reference": "previous", "unit": "pct"}, "above": 40}, "for": 2},
    {"when": {"change": {"reference": "previous", "unit": "abs"}, "outside": [-1, 1]}},
    {"when": {"change": {"reference": "day", "unit": "pct", "min_base": 0.1}, "below": -30}},
    {"when": {"streak": {"direction": "up"}, "at_least": 3}},
    {"when": {"streak": {"direction": "down"}, "at_least": 2}, "clear_after": 2},
    {"when": {"deviation": {"method": "zscore", "window": 5}, "outside": [-1.5, 1.5]}},
    {"when": {"deviation": {"method": "zscore", "window": 30, "min_samples": 7}, "above": 2}},
    {"when": {"deviation": {"method": "mad", "window": 7}, "outside": [-2, 2]}},
    {"when": {"deviation": {"method": "mad", "window": 12, "min_samples": 4}, "above": 2.5},
     "for": 2},
    {"when": {"deviation": {"method": "ewma", "window": 10}, "above": 1.5}, "clear_after": "5m"},
    {"when": {"all": [{"value": {}, "above": 0.2},
                      {"not": {"streak": {"direction": "up"}, "at_least": 2}}]}},
    {"when": {"any": [{"deviation": {"method": "zscore", "window": 8}, "above": 2},
                      {"change": {"reference": "previous", "unit": "pct"}, "below": -50}]},
     "budget": {"per_day": 3}},
    {"when": {"value": {}, "above": {"by": "size", "large": 1.5, "small": 0.5}}},
]


def rule(i: int) -> RuleSpec:
    return RuleSpec.model_validate({"name": f"r{i}", "metric": "m", "severity": "P2", **RULES[i]}
                                   if "bands" not in RULES[i] else
                                   {"name": f"r{i}", "metric": "m", **RULES[i]})


SIZES = {"a": {"size": "large"}, "b": {"size": "small"}, "c": {}}   # c: no class, not evaluated


def samples(values, entities=("a",), gaps=None, start=1_700_000_000.0):
    rows = []
    for k, v in enumerate(values):
        at = k // len(entities)   # every entity reports at each time
        ts = start + 60.0 * (at if gaps is None else gaps[at])
        entity = entities[k % len(entities)]
        rows.append(("m", entity, SIZES[entity], ts, float(v)))
    return rows


def same(spec: RuleSpec, rows) -> None:
    fast = replay(spec, rows, METRIC)
    slow = replay(spec, rows, METRIC, along_time=False)
    assert fast.alerts == slow.alerts
    assert (fast.suppressed, fast.rejected, fast.samples) == \
        (slow.suppressed, slow.rejected, slow.samples)


def test_every_rule_here_replays_along_time():
    assert all(vectorisable(rule(i), METRIC) for i in range(len(RULES)))


@pytest.mark.parametrize("i", range(len(RULES)))
def test_a_long_noisy_series_gives_the_engines_alerts(i):
    rng = np.random.default_rng(i)
    values = np.cumsum(rng.normal(0, 0.3, 6000)) * 0.1 + rng.normal(0, 0.5, 6000)
    values[::97] += 4.0   # spikes
    rows = samples(np.round(values, 2), entities=("a", "b", "c"))
    fast = replay(rule(i), rows, METRIC)
    assert fast.alerts, "the series should make this rule raise at least once"
    same(rule(i), rows)


values_st = st.lists(st.one_of(st.integers(-3, 3).map(float),
                               st.floats(-5, 5, allow_nan=False, width=32),
                               st.just(float("nan"))), min_size=1, max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(i=st.integers(0, len(RULES) - 1), values=values_st, n_entities=st.integers(1, 3),
       data=st.data())
def test_random_series_give_the_engines_alerts(i, values, n_entities, data):
    # Gaps and repeated times (refused by both) in random places.
    steps = data.draw(st.lists(st.sampled_from([0, 1, 1, 1, 2, 7]), min_size=len(values),
                               max_size=len(values)))
    gaps = np.cumsum(steps).tolist()
    entities = tuple("abc"[:n_entities])
    same(rule(i), samples(values, entities, gaps))


def test_measures_that_cannot_go_along_time_replay_through_the_engine():
    for when in ({"missing": {"after": "5m"}}, {"adaptive": {}},
                 {"peer": {"group_by": "region"}, "above": 2},
                 {"forecast": {"season": "1d"}, "above": 3}):
        spec = RuleSpec.model_validate({"name": "x", "metric": "m", "severity": "P2",
                                        "when": when})
        assert not vectorisable(spec, METRIC), when


def test_a_set_cancel_flag_stops_the_replay():
    progress = Progress()
    progress.cancel.set()
    with pytest.raises(Cancelled):
        replay(rule(0), samples(range(100)), METRIC, progress=progress)
    counted = Progress()
    replay(rule(0), samples(range(100)), METRIC, progress=counted)
    assert counted.samples_done == 100


def test_a_series_changing_its_labels_replays_through_the_engine_with_the_same_alerts():
    rows = samples([0.2, 1.0, 1.8, 0.1, 1.0, 1.8] * 20, entities=("a",))
    moved = [(m, e, {"size": "small"} if k > 60 else labels, ts, v)
             for k, (m, e, labels, ts, v) in enumerate(rows)]
    spec = rule(len(RULES) - 1)
    fast = replay(spec, moved, METRIC)
    assert fast.alerts == replay(spec, moved, METRIC, along_time=False).alerts
    assert Prepared(spec, moved).history(60.0) is None   # the along-time path declined
