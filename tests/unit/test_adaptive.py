"""The adaptive scorer: bounded, causal, batch == online, and it reacts to what it should."""
from __future__ import annotations

import math

import numpy as np
import pytest

from services.detector.adaptive import (ANOMALY_THRESHOLD, DEFAULT, AdaptiveScorer, score_csv,
                                        score_series)

START = 1_396_310_400.0  # 2014-04-01 00:00:00 UTC
STEP = 300.0


def stamps(n: int) -> np.ndarray:
    return START + STEP * np.arange(n)


def noisy(n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    daily = 10 * np.sin(2 * np.pi * np.arange(n) * STEP / 86400)
    return 50 + daily + rng.normal(0, 1, n)


def test_scores_are_finite_and_in_unit_interval():
    values = noisy(3000)
    values[2000:2010] += 40
    scores = score_series(values, stamps(3000))
    assert scores.shape == (3000,)
    assert np.all(np.isfinite(scores))
    assert scores.min() >= 0.0 and scores.max() <= 1.0


def test_batch_equals_point_by_point():
    values = noisy(2500, seed=3)
    values[1800] += 25
    ts = stamps(2500)
    scorer = AdaptiveScorer()
    online = [scorer.update(v, t) for v, t in zip(values, ts)]
    assert np.array_equal(score_series(values, ts), np.array(online))


def test_causal_future_points_never_change_past_scores():
    values = noisy(2000, seed=5)
    ts = stamps(2000)
    head = score_series(values[:1200], ts[:1200])
    future = values.copy()
    future[1200:] = future[1200:] * 5 + 100  # a wild future
    assert np.array_equal(score_series(future, ts)[:1200], head)


def test_spike_after_warm_up_scores_high():
    values = noisy(3000, seed=7)
    values[2500] += 30
    scores = score_series(values, stamps(3000))
    assert scores[2500] >= ANOMALY_THRESHOLD
    assert scores[1000:2500].max() < scores[2500]


def test_level_shift_scores_high_within_a_few_points():
    values = noisy(3000, seed=11)
    values[2400:] += 15
    scores = score_series(values, stamps(3000))
    assert scores[2400:2405].max() >= ANOMALY_THRESHOLD


def test_steady_noisy_series_stays_mostly_quiet():
    scores = score_series(noisy(4000, seed=13), stamps(4000))
    alerts = int((scores[600:] >= ANOMALY_THRESHOLD).sum())
    assert alerts <= 6  # a handful of record-breaking noise points in ~3400, no storm
    assert np.median(scores[600:]) < 0.2


def test_constant_series_gives_zero_and_no_division_by_zero():
    scores = score_series(np.full(1500, 7.0), stamps(1500))
    assert np.all(scores == 0.0)
    zeros = score_series(np.zeros(1500), stamps(1500))
    assert np.all(np.isfinite(zeros)) and zeros.max() == 0.0


def test_constant_then_change_is_flagged_without_nan():
    values = np.full(1500, 3.0)
    values[1200] = 4.0
    scores = score_series(values, stamps(1500))
    assert np.all(np.isfinite(scores))
    assert scores[1200] >= ANOMALY_THRESHOLD


def test_nan_input_is_skipped_not_propagated():
    values = noisy(800)
    values[500] = math.nan
    scores = score_series(values, stamps(800))
    assert np.all(np.isfinite(scores)) and scores[500] == 0.0


def test_state_is_small_and_fixed():
    scorer = AdaptiveScorer()
    before = scorer.state_bytes()
    for v, t in zip(noisy(500), stamps(500)):
        scorer.update(v, t)
    assert scorer.state_bytes() == before < 16_000


def test_score_csv_reads_nab_format(tmp_path):
    path = tmp_path / "series.csv"
    rows = ["timestamp,value"] + [
        f"2014-04-01 {h:02d}:{m:02d}:00,{v:.3f}"
        for (h, m), v in zip(((i // 12, 5 * (i % 12)) for i in range(288)), noisy(288))]
    path.write_text("\n".join(rows) + "\n")
    scores = score_csv(str(path))
    assert len(scores) == 288
    # the file holds the values rounded to 3 decimals: score exactly those
    assert scores == pytest.approx(score_series(np.round(noisy(288), 3), stamps(288)).tolist())


def test_novel_transition_inside_the_usual_range_is_flagged():
    # A ramp 0, 1, ..., 6, 0, 1, ...; once it steps down (1 -> 0) instead of up. The step
    # has the usual size and stays in range, so only the transition model finds it new.
    n = 3000
    values = (np.arange(n) % 7).astype(float)
    assert values[2500] == 1.0
    values[2501] = 0.0
    scores = score_series(values, stamps(n))
    assert scores[2501] >= ANOMALY_THRESHOLD
    assert scores[1000:2501].max() < ANOMALY_THRESHOLD


def test_alerts_are_held_off_after_an_alert():
    values = noisy(3000, seed=17)
    values[2000] += 40
    values[2050] += 40  # the same incident: no second alert
    scores = score_series(values, stamps(3000))
    assert scores[2000] >= ANOMALY_THRESHOLD
    # held off for max(holdoff, holdoff_fraction * points seen) points
    quiet = max(DEFAULT.holdoff, int(DEFAULT.holdoff_fraction * 2000))
    assert quiet >= 60 and scores[2001:2001 + quiet].max() == 0.0


def test_the_detect_command_prints_one_score_per_data_row(tmp_path, capsys):
    from closedloop.cli import main

    path = tmp_path / "series.csv"
    rows = [f"2026-11-01 00:{m:02d}:00,{10 + (m % 3)}" for m in range(40)] + ["2026-11-01 00:40:00,500"]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    assert main(["detect", "--adaptive", str(path)]) == 0
    scores = [float(line) for line in capsys.readouterr().out.split()]
    assert len(scores) == len(rows) and all(0.0 <= s <= 1.0 for s in scores)


def test_a_smooth_day_that_breaks_the_daily_rhythm_is_flagged():
    # Twelve days of a daily wave, then one day the wave runs upside down: every step is as
    # small as usual, only the time-of-day model (which predicts this series best) sees it.
    n, day = 288 * 14, 288 * 12
    t = np.arange(n)
    wave = 10 * np.sin(2 * np.pi * t * STEP / 86400)
    values = 50 + wave + np.random.default_rng(5).normal(0, 0.5, n)
    values[day:day + 288] = 50 - wave[day:day + 288] + 0.5 * np.random.default_rng(6).normal(
        0, 1, 288)
    scores = score_series(values, stamps(n))
    assert scores[600:day].max() < ANOMALY_THRESHOLD
    assert scores[day:day + 72].max() >= ANOMALY_THRESHOLD   # within its first six hours
