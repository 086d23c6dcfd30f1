"""Backtests over awkward CSV history: each case gives a result and a note saying what limits
it, never a crash or a silently empty answer; the `detect` command refuses what it cannot score."""
from __future__ import annotations

import numpy as np
import pytest

from services.detector.adaptive import DEFAULT, score_csv
from services.detector.rules import RuleSpec
from services.detector.rules.backtest import read_samples_csv, replay

START = 1_396_310_400  # 2014-04-01 00:00:00 UTC
ADAPTIVE = RuleSpec.model_validate({"name": "odd-load", "metric": "shop.load", "severity": "P2",
                                    "when": {"adaptive": {}}})


def csv_of(rows: list[tuple[float, float]]) -> str:
    return "timestamp,value\n" + "".join(f"{int(t)},{v}\n" for t, v in rows)


def replayed(rows: list[tuple[float, float]], rule: RuleSpec = ADAPTIVE):
    return replay(rule, read_samples_csv(csv_of(rows), metric="shop.load", entity="shop-1"))


def noisy(n: int, seed: int = 3) -> list[tuple[float, float]]:
    values = 50 + np.random.default_rng(seed).normal(0, 1, n)
    return [(START + 300 * i, round(float(v), 3)) for i, v in enumerate(values)]


def test_a_single_row_replays_and_says_only_value_bounds_can_fire():
    result = replayed([(START, 5.0)])
    assert (result.samples, result.alerts, result.interval) == (1, [], None)
    assert result.notes == ["shop-1: a single sample; a change, a deviation or an adaptive "
                            "score needs history, so only `value` bounds can fire"]


def test_too_short_for_the_adaptive_warm_up_is_said_not_scored_as_quiet():
    result = replayed(noisy(40))
    assert result.alerts == []
    assert any(f"40 samples; the adaptive score starts after {DEFAULT.warmup}" in n
               for n in result.notes)
    # a rule without the adaptive measure has no warm-up to mention
    value_rule = RuleSpec.model_validate({"name": "low", "metric": "shop.load", "severity": "P2",
                                          "when": {"value": {}, "below": 10}})
    assert replayed(noisy(40), value_rule).notes == []


def test_unsorted_rows_are_replayed_in_time_order_and_said():
    rows = noisy(400)
    rows[200], rows[201] = rows[201], rows[200]
    result = replayed(rows)
    in_order = replayed(noisy(400))
    assert result.alerts == in_order.alerts and result.samples == 400
    assert result.notes[0].startswith("1 row(s) came earlier than a row before them; the "
                                      "replay sorted the history by time")


def test_duplicate_times_are_refused_counted_and_said():
    rows = noisy(400)
    rows.insert(300, (rows[299][0], 99.0))  # a second value at 299's time
    result = replayed(rows)
    assert (result.samples, result.rejected) == (401, 1)
    assert result.notes[0].startswith("1 sample(s) repeat a time already seen for their series")


def test_a_constant_series_is_quiet_and_said_to_be_constant():
    result = replayed([(START + 300 * i, 7.0) for i in range(600)])
    assert result.alerts == []
    assert result.notes == ["shop-1: every sample is 7; deviation and adaptive measures stay "
                            "quiet on a constant series until it changes"]


def test_gaps_are_counted_with_the_longest_and_scores_continue_after_them():
    rows = noisy(600)
    rows = rows[:300] + [(t + 2 * 86400, v) for t, v in rows[300:]]   # two days of silence
    rows[500] = (rows[500][0], 90.0)                                   # a spike after the gap
    result = replayed(rows)
    assert any(n == "shop-1: 1 gap(s) longer than 3 intervals (longest 2 d); measures continue "
               "across them from the last sample, and only `missing` alerts on them"
               for n in result.notes)
    assert rows[500][0] in [a.start for a in result.alerts]


def test_no_matching_samples_says_nothing_was_replayed():
    result = replay(ADAPTIVE, read_samples_csv(csv_of(noisy(10)), metric="other.metric"))
    assert result.samples == 0
    assert result.notes == ["no sample of shop.load matches the rule: nothing was replayed"]


# -- the detect command (adaptive scores of one CSV series) ---------------------------------
def test_score_csv_refuses_rows_out_of_time_order_naming_the_row(tmp_path):
    path = tmp_path / "series.csv"
    rows = noisy(10)
    rows[6], rows[7] = rows[7], rows[6]
    path.write_text(csv_of(rows))
    with pytest.raises(ValueError, match=r"data row 8 \(2014-04-01T00:30:00\+00:00\) is earlier "
                                         r"than the row before it; .* sort the rows by time"):
        score_csv(str(path))


def test_score_csv_refuses_a_repeated_time(tmp_path):
    path = tmp_path / "series.csv"
    path.write_text(csv_of([(START, 1.0), (START + 300, 2.0), (START + 300, 3.0)]))
    with pytest.raises(ValueError, match="data row 3 .* repeats the time of the row before it"):
        score_csv(str(path))


def test_score_csv_names_a_bad_value_and_an_empty_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,n/a\n")
    with pytest.raises(ValueError, match="line 3: value 'n/a' is not a number"):
        score_csv(str(bad))
    empty = tmp_path / "empty.csv"
    empty.write_text("timestamp,value\n")
    with pytest.raises(ValueError, match="no data rows"):
        score_csv(str(empty))


def test_detect_on_a_single_row_prints_its_score_and_explains_the_warm_up(tmp_path, capsys):
    from closedloop.cli import main

    path = tmp_path / "one.csv"
    path.write_text("timestamp,value\n2026-11-01 00:00:00,5\n")
    assert main(["detect", "--adaptive", str(path)]) == 0
    out = capsys.readouterr()
    assert out.out.split() == ["0.000000"]
    assert f"the adaptive score starts after {DEFAULT.warmup} rows" in out.err


def test_detect_reports_a_bad_file_as_a_message_not_a_traceback(tmp_path):
    from closedloop.cli import main

    path = tmp_path / "unsorted.csv"
    path.write_text(csv_of([(START + 300, 1.0), (START, 2.0)]))
    with pytest.raises(SystemExit, match=r"unsorted.csv: data row 2 .* is earlier than"):
        main(["detect", "--adaptive", str(path)])
