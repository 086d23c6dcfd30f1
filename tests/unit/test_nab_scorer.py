"""NAB scoring on hand-computable cases (one 1000-row file, window rows 400..499)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tests.bench.nab_scorer import (MAX_TP, PROFILES, file_score, optimise, probation_length,
                                    scaled_sigmoid, score_corpus, sweep_rows)

N = 1000
TS = np.datetime64("2014-04-01T00:00:00") + np.arange(N) * np.timedelta64(5, "m")
WINDOWS = [[str(TS[400]).replace("T", " ") + ".000000", str(TS[499]).replace("T", " ") + ".000000"]]
STANDARD = PROFILES["standard"]


def detections(*rows: int) -> np.ndarray:
    scores = np.zeros(N)
    scores[list(rows)] = 1.0
    return scores


def raw(*rows: int, profile: str = "standard") -> float:
    cost = PROFILES[profile]
    return file_score(sweep_rows(TS, detections(*rows), WINDOWS, cost), cost, 1.0)


def test_profiles_are_nabs():
    assert PROFILES["standard"] == {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}
    assert PROFILES["reward_low_FP_rate"]["fpWeight"] == 0.22
    assert PROFILES["reward_low_FN_rate"]["fnWeight"] == 2.0


def test_scaled_sigmoid_landmarks():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.5) == -1.0


def test_probationary_length_is_15_percent_capped_at_750():
    assert probation_length(1000) == 150
    assert probation_length(4032) == 604
    assert probation_length(22695) == 750


def test_detection_at_window_start_scores_a_tp():
    assert raw(400) == pytest.approx(STANDARD["tpWeight"])


def test_later_detection_in_window_scores_less():
    middle = scaled_sigmoid(-(499 - 450 + 1) / 100) / MAX_TP
    assert raw(450) == pytest.approx(middle)
    assert 0 < raw(499) < raw(450) < raw(400)


def test_only_first_detection_in_a_window_counts():
    assert raw(400, 450, 470) == pytest.approx(raw(400))
    assert raw(450, 470) == pytest.approx(raw(450))


def test_false_positive_far_from_windows_costs_a_fp():
    assert raw(200, 400) == pytest.approx(1.0 - STANDARD["fpWeight"])
    assert raw(200) == pytest.approx(-STANDARD["fpWeight"] - STANDARD["fnWeight"])
    assert raw(200, profile="reward_low_FP_rate") == pytest.approx(-0.22 - 1.0)


def test_false_positive_just_after_a_window_costs_less():
    cost = raw(400, 510) - raw(400)
    assert -STANDARD["fpWeight"] < cost < 0
    assert cost == pytest.approx(scaled_sigmoid(11 / 99) * STANDARD["fpWeight"])


def test_missed_window_costs_a_fn():
    assert raw() == -1.0
    assert raw(profile="reward_low_FN_rate") == -2.0


def test_probationary_detections_are_ignored():
    assert raw(10, 149) == raw()
    assert raw(150) == pytest.approx(raw() - STANDARD["fpWeight"])


def test_threshold_counts_scores_at_or_above_it():
    scores = np.zeros(N)
    scores[400], scores[200] = 0.9, 0.5
    rows = sweep_rows(TS, scores, WINDOWS, STANDARD)
    assert file_score(rows, STANDARD, 0.9) == pytest.approx(1.0)
    assert file_score(rows, STANDARD, 0.5) == pytest.approx(1.0 - 0.11)
    assert optimise([rows], STANDARD) == (0.9, pytest.approx(1.0))


def test_normalisation_perfect_is_100_and_null_is_0():
    results = {"a.csv": (TS, detections(400)), "b.csv": (TS, detections(400))}
    windows = {"a.csv": WINDOWS, "b.csv": WINDOWS}
    for r in score_corpus(results, windows).values():
        assert r.score == pytest.approx(100.0)
    null = score_corpus({k: (TS, np.zeros(N)) for k in results}, windows)
    for r in null.values():
        assert r.score == pytest.approx(0.0)
        assert r.threshold == 1.1


def test_one_threshold_is_optimised_over_all_files():
    # File a needs threshold 0.3 to catch its window; file b then pays for two FPs at 0.4.
    a = np.zeros(N); a[400] = 0.3
    b = np.zeros(N); b[420] = 0.9; b[200] = b[600] = 0.4
    out = score_corpus({"a.csv": (TS, a), "b.csv": (TS, b)}, {"a.csv": WINDOWS, "b.csv": WINDOWS})
    std = out["standard"]
    assert std.threshold == 0.3
    b_tp = scaled_sigmoid(-(499 - 420 + 1) / 100) / MAX_TP
    fp_b = -0.11 + scaled_sigmoid(101 / 99) * 0.11
    assert std.per_file["a.csv"] == pytest.approx(1.0)
    assert std.per_file["b.csv"] == pytest.approx(b_tp + fp_b)
    assert std.raw == pytest.approx(sum(std.per_file.values()))
    assert std.score == pytest.approx(100 * (std.raw + 2) / 4)
    assert not math.isnan(std.score)
