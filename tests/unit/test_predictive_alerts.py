"""Predictive alerts (seed 004, 智能预警): a store's NPS drifts down with its daily rhythm;
the `predict` measure warns before it goes under 55, stays quiet on a steady store and
resolves when the store recovers."""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from services.detector.rules import Engine, MetricSpec, RuleSpec
from services.detector.rules.backtest import predictions, replay
from services.detector.rules.catalogue import PredictShape, check_context
from services.detector.rules.measures.predict import fit_ets
from shared.errors import Invalid

HOUR, DAY = 3600.0, 86400.0
T0 = 19675 * DAY  # midnight UTC
METRIC = MetricSpec(name="store.nps", interval="1h", retention="60d")
STORE = "深圳宝安店"


def nps_rule(**predict) -> RuleSpec:
    return RuleSpec.model_validate({
        "name": "nps-heading-under-55", "metric": "store.nps", "severity": "P2",
        "when": {"predict": {"horizon": "2d", "season": "1d", **predict}, "below": 55},
        "clear_after": 3})


def nps_series(hours: int, slope_per_day: float, start_decline: int = 96, seed: int = 7,
               recover_at: int | None = None) -> np.ndarray:
    """70 with a ±2 daily rhythm and noise; from `start_decline` it drifts by the slope; from
    `recover_at` it climbs back at twice that pace."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    drift = np.clip(t - start_decline, 0, None) * slope_per_day / 24
    if recover_at is not None:
        back = np.clip(t - recover_at, 0, None) * 2 * abs(slope_per_day) / 24
        drift = np.where(t >= recover_at, drift[recover_at] + back, drift)
        drift = np.minimum(drift, 0)
    return 70 + 2 * np.sin(2 * np.pi * t / 24) + drift + rng.normal(0, 0.3, hours)


def run(values: np.ndarray, rule: RuleSpec | None = None):
    engine = Engine()
    engine.set_rule("r", rule or nps_rule(), METRIC)
    samples = [("store.nps", STORE, {"region": "south"}, T0 + i * HOUR, float(v))
               for i, v in enumerate(values)]
    transitions = []
    for i in range(0, len(samples), 24):  # a day's samples per batch, as an hourly feed would
        transitions += engine.evaluate_samples(samples[i:i + 24]).transitions
    return engine, transitions


def test_a_declining_nps_is_warned_about_before_it_goes_under_55():
    values = nps_series(12 * 24, slope_per_day=-2.5)
    _, transitions = run(values)
    raises = [t for t in transitions if t.kind == "raise"]
    assert raises, "the decline was never warned about"
    warned = raises[0]
    crossed = T0 + HOUR * int(np.argmax(values < 55))
    lead = crossed - warned.ts
    # Warned hours to days ahead of the real crossing (a 2-day horizon, give or take the
    # forecast's error), and only once the decline had shown for a while.
    assert 6 * HOUR <= lead <= 3 * DAY, lead / HOUR
    assert warned.ts >= T0 + (96 + 24) * HOUR
    assert warned.predicted_crossing_at is not None and warned.predicted_crossing_at > warned.ts
    assert warned.predicted_crossing_at - warned.ts <= 2 * DAY
    assert 0.5 <= warned.confidence <= 1
    assert f"store.nps for {STORE}" in warned.summary
    assert "at this rate it goes below 55 in about" in warned.summary
    assert "sure, horizon 2d" in warned.summary


def test_a_steady_nps_with_its_daily_rhythm_never_warns():
    _, transitions = run(nps_series(12 * 24, slope_per_day=0.0))
    assert transitions == []


def test_a_store_that_recovers_resolves_the_warning():
    values = nps_series(14 * 24, slope_per_day=-3.0, recover_at=96 + 96)
    assert values.min() > 55  # it never actually went under
    _, transitions = run(values)
    kinds = [t.kind for t in transitions]
    assert kinds[:2] == ["raise", "resolve"], kinds
    assert transitions[1].predicted_crossing_at is None


def test_no_forecast_before_the_minimum_history():
    shape = PredictShape.of(nps_rule().when.predict, HOUR)
    assert (shape.period, shape.window, shape.min_samples, shape.refit, shape.steps) == \
        (24, 72, 50, 24, 48)
    # Even a collapse is not forecast before two days and two hours of samples.
    engine, transitions = run(np.linspace(70, 50, 49))
    assert transitions == []
    assert engine.rules["r"].measures[next(iter(engine.rules["r"].measures))].fits == 0


def test_the_model_is_refitted_every_season_and_early_when_it_falls_behind():
    engine, _ = run(nps_series(8 * 24, slope_per_day=0.0))
    (steady,) = engine.rules["r"].measures.values()
    # First fit at sample 50, then one per 24 samples: 50, 74, …, 170 → 6 fits for 192
    # samples, and now and then one more when noise runs one way for a while.
    assert 6 <= steady.fits <= 8
    engine, _ = run(nps_series(8 * 24, slope_per_day=-4.0))
    (declining,) = engine.rules["r"].measures.values()
    assert declining.fits > steady.fits  # the turn to a decline is refitted before the day ends


def test_fit_ets_recovers_a_straight_decline():
    y = 70 - 0.1 * np.arange(60)
    alpha, beta, gamma, phi, level, trend, sigma2, *season = fit_ets(y, 1)
    assert level == pytest.approx(y[-1], abs=0.05)
    assert trend == pytest.approx(-0.1, abs=0.01)
    assert season == [0.0] and gamma == 0.0


# -- bad input ----------------------------------------------------------------------------
def test_a_horizon_shorter_than_the_interval_is_refused_naming_the_field():
    with pytest.raises(Invalid) as refused:
        check_context(nps_rule(horizon="30m"), METRIC)
    assert refused.value.field == "when.predict.horizon"
    assert "shorter than the interval 1h" in str(refused.value)


def test_a_window_longer_than_the_retention_is_refused():
    with pytest.raises(Invalid) as refused:
        check_context(nps_rule(window=2000), METRIC)
    assert refused.value.field == "when.predict.window"
    assert "retention" in str(refused.value)


def test_a_seasonal_window_under_two_seasons_is_refused():
    with pytest.raises(Invalid) as refused:
        check_context(nps_rule(window=30), METRIC)
    assert refused.value.field == "when.predict.window"


def test_predict_takes_exactly_one_bound():
    with pytest.raises(ValidationError, match="predict takes one bound"):
        RuleSpec.model_validate({"name": "r", "metric": "store.nps", "severity": "P2",
                                 "when": {"predict": {"horizon": "1d"}, "below": 55,
                                          "above": 10}})


# -- backtests ------------------------------------------------------------------------------
def backtest(values: np.ndarray, rule: RuleSpec):
    samples = [("store.nps", STORE, {"region": "south"}, T0 + i * HOUR, float(v))
               for i, v in enumerate(values)]
    result = replay(rule, samples, METRIC)
    (report,) = predictions(rule, result, samples)
    return result, report


def test_a_backtest_reports_how_long_before_the_real_crossing_it_warned():
    values = nps_series(12 * 24, slope_per_day=-2.5)
    result, report = backtest(values, nps_rule())
    crossed = T0 + HOUR * int(np.argmax(values < 55))
    first = result.alerts[0]
    assert report["path"] == "when.predict" and report["horizon_seconds"] == 2 * DAY
    assert report["warnings"] == len(result.alerts)
    assert report["crossings"] >= 1 and report["crossings_warned"] >= 1
    # The first warning came too early for its horizon (a false one), the later ones held.
    lead = crossed - first.start
    assert report["false_warnings"] == (1 if lead > 2 * DAY else 0)
    assert report["true_warnings"] + report["false_warnings"] + \
        report["undecided_warnings"] == report["warnings"]
    assert 0 < report["lead_time"]["max"] <= 2 * DAY


def test_a_warning_for_a_store_that_recovered_is_a_false_warning():
    values = nps_series(16 * 24, slope_per_day=-3.0, recover_at=96 + 96)
    _, report = backtest(values, nps_rule())
    assert report["warnings"] >= 1 and report["true_warnings"] == 0
    assert report["false_warnings"] == report["warnings"]
    assert report["crossings"] == 0 and report["lead_time"]["median"] is None


def test_a_backtest_on_too_little_history_says_so_naming_the_field():
    result, report = backtest(nps_series(40, slope_per_day=-2.5), nps_rule())
    assert result.alerts == [] and report["warnings"] == 0
    assert report["notes"] == [
        f"{STORE}: 40 samples; when.predict forecasts after 50 (when.predict.min_samples, "
        "2 seasons + 2 by default), so it never forecast here"]


def test_other_rules_have_no_prediction_report():
    rule = RuleSpec.model_validate({"name": "low", "metric": "store.nps", "severity": "P2",
                                    "when": {"value": {}, "below": 55}})
    assert predictions(rule, replay(rule, [], METRIC), []) == []


def test_a_window_the_optimiser_cannot_fit_keeps_the_last_model():
    engine, _ = run(nps_series(3 * 24, slope_per_day=0.0))
    (measure,) = engine.rules["r"].measures.values()
    assert (measure.fits, measure.failed) == (1, 0)
    slot_level = measure.state["level"][0]
    measure.state["ring"][0, :] = np.inf  # what a fit cannot take
    measure._fit(0, 3 * 24, 3 * 24 + 1)
    assert (measure.fits, measure.failed) == (1, 1)
    assert measure.state["level"][0] == slot_level and measure.state["fitted"][0]


def test_the_command_line_backtest_prints_the_lead_time(tmp_path, capsys):
    from closedloop.cli import main
    values = nps_series(12 * 24, slope_per_day=-2.5)
    rows = "\n".join(f"{datetime.fromtimestamp(T0 + i * HOUR, timezone.utc):%Y-%m-%d %H:%M:%S},"
                     f"{v:.3f}" for i, v in enumerate(values))
    (tmp_path / "nps.csv").write_text("timestamp,value\n" + rows + "\n")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({
        "metrics": [METRIC.model_dump(mode="json")],
        "rules": [nps_rule().model_dump(mode="json", by_alias=True)]}, allow_unicode=True))
    assert main(["backtest", str(tmp_path / "rules.yaml"), "--csv", str(tmp_path / "nps.csv"),
                 "--entity", STORE]) == 0
    out = capsys.readouterr().out
    assert "when.predict: " in out and "true (median lead " in out and "crossings warned" in out


def test_a_daily_nps_without_a_season_warns_days_ahead():
    # A daily NPS on the default 35-day retention: 70, then from day 15 down 1.5 a day.
    daily = MetricSpec(name="store.nps", interval="1d")
    rule = RuleSpec.model_validate({
        "name": "nps-daily", "metric": "store.nps", "severity": "P2",
        "when": {"predict": {"horizon": "3d"}, "below": 55}})
    engine = Engine()
    engine.set_rule("r", rule, daily)  # the default window (30 samples) fits 35d
    rng = np.random.default_rng(3)
    t = np.arange(35)
    values = 70 - np.clip(t - 15, 0, None) * 1.5 + rng.normal(0, 0.5, 35)
    transitions = engine.evaluate_samples(
        [("store.nps", STORE, {}, T0 + i * DAY, float(v)) for i, v in enumerate(values)]
    ).transitions
    warned = next(t for t in transitions if t.kind == "raise")
    went_under = T0 + DAY * int((values < 55).argmax())
    assert DAY <= went_under - warned.ts <= 4 * DAY
    assert "in about " in warned.summary and "horizon 3d" in warned.summary


def test_a_clock_tick_leaves_predict_unknown_beside_missing():
    rule = RuleSpec.model_validate({
        "name": "nps-heading-under-55-or-silent", "metric": "store.nps", "severity": "P2",
        "when": {"any": [{"predict": {"horizon": "2d", "season": "1d"}, "below": 55},
                         {"missing": {"after": "6h"}}]}})
    engine = Engine()
    engine.set_rule("r", rule, METRIC)
    falling, steady = nps_series(9 * 24, -2.5), nps_series(9 * 24, 0.0)
    samples = [("store.nps", store, {}, T0 + i * HOUR, float(v[i]))
               for i in range(9 * 24) for store, v in (("falling", falling), ("steady", steady))]
    raised = engine.evaluate_samples(samples[:-1]).transitions  # steady's last hour is missing
    assert {t.entity for t in raised} == {"falling"}
    # The tick evaluates both stores; the last forecast (falling's, crossing) is not reused.
    ticked = engine.tick(T0 + 9 * 24 * HOUR + 7 * HOUR)
    assert [(t.entity, t.kind, t.predicted_crossing_at) for t in ticked] == [
        ("steady", "raise", None)]
    assert "no sample for 9h" in ticked[0].summary
