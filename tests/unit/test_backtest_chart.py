"""The series a backtest answers for its chart: thinned per entity without losing the spike
a rule fired on, NaN as null, entities with alerts first, and the windows as scored."""
from __future__ import annotations

import math

from services.detector.rules import RuleSpec
from services.detector.rules.backtest.chart import MAX_ENTITIES, series_points, thin
from services.detector.rules.backtest.model import Window
from services.detector.rules.backtest.run import backtest


def rows(entity: str, values: list[float], t0: float = 0.0):
    return [("load", entity, {}, t0 + 60 * i, v) for i, v in enumerate(values)]


def test_a_short_series_comes_back_whole():
    assert thin([0, 60, 120], [1.0, math.nan, 3.0], 10) == [[0, 1.0], [60, None], [120, 3.0]]


def test_thinning_keeps_the_spike_and_the_dip_in_time_order():
    values = [10.0] * 10_000
    values[4321], values[7777] = 500.0, -40.0
    points = thin([60.0 * i for i in range(10_000)], values, 200)
    assert len(points) <= 200
    assert [60.0 * 4321, 500.0] in points and [60.0 * 7777, -40.0] in points
    assert [p[0] for p in points] == sorted(p[0] for p in points)


def test_entities_with_alerts_come_first_and_at_most_a_chart_s_worth():
    many = [r for k in range(MAX_ENTITIES + 5) for r in rows(f"shop-{k:02d}", [1.0, 2.0])]
    found = series_points(many, 10, alerted={"shop-24"})
    assert len(found) == MAX_ENTITIES
    assert found[0]["entity"] == "shop-24" and found[1]["entity"] == "shop-00"
    assert found[0] == {"entity": "shop-24", "total": 2, "points": [[0.0, 1.0], [60.0, 2.0]]}


def test_a_backtest_answers_its_series_only_when_asked_and_always_its_windows():
    rule = RuleSpec.model_validate({"name": "hot", "metric": "load", "severity": "P2",
                                    "when": {"value": {}, "above": 50}})
    history = rows("shop-1", [10.0] * 50 + [90.0] * 3 + [10.0] * 50)
    windows = [Window(60 * 48, 60 * 60, "shop-1")]
    plain = backtest(rule, history, windows)
    assert plain["series"] is None
    assert plain["labelled_windows"] == [{"start": 2880, "end": 3600, "entity": "shop-1"}]
    charted = backtest(rule, history, windows, points=20)
    (series,) = charted["series"]
    assert series["total"] == 103 and len(series["points"]) <= 20
    assert [60.0 * 50, 90.0] in series["points"]
    assert charted["scores"]["precision"] == 1.0
