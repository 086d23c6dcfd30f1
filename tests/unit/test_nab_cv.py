"""Leave-one-family-out cross-validation cannot peek: each held-out family is scored with the
choice made on the others, even when another choice would have served it better."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from services.detector.adaptive import DEFAULT
from tests.bench.nab_cv import Candidate, _cross_validate, _rows, evaluate, family
from tests.bench.nab_scorer import PROFILES

N = 1000
TS = np.datetime64("2014-04-01T00:00:00") + np.arange(N) * np.timedelta64(5, "m")
WINDOW = [[str(TS[400]).replace("T", " ") + ".000000", str(TS[499]).replace("T", " ") + ".000000"]]
NAMES = ("alpha/a.csv", "beta/b.csv")
WINDOWS = {name: WINDOW for name in NAMES}
STANDARD = PROFILES["standard"]


def scores(*rows: int, level: float = 1.0) -> np.ndarray:
    out = np.zeros(N)
    out[list(rows)] = level
    return out


def test_family_is_the_folder():
    assert family("realTweets/Twitter_volume_FB.csv") == "realTweets"


def test_each_family_is_scored_with_what_the_other_family_preferred():
    # Candidate 0 finds alpha's anomaly and misses beta's; candidate 1 the other way round.
    first = Candidate(DEFAULT, {"alpha/a.csv": (TS, scores(400)), "beta/b.csv": (TS, scores())})
    second = Candidate(replace(DEFAULT, short=10),
                       {"alpha/a.csv": (TS, scores()), "beta/b.csv": (TS, scores(400))})
    rows = [_rows(c.scored, WINDOWS, STANDARD) for c in (first, second)]
    raw, chosen = _cross_validate([first, second], rows, STANDARD)
    # Held out, each family gets the other's favourite, which misses it: two misses.
    assert chosen == {"alpha": (1, DEFAULT.threshold), "beta": (0, DEFAULT.threshold)}
    assert raw == pytest.approx(-2.0)


def test_figures_put_the_fixed_threshold_beside_the_swept_one():
    # Scores of 0.45 in both windows: NAB's sweep finds them, the fixed threshold 0.5 does not.
    default = {name: (TS, scores(400, level=0.45)) for name in NAMES}
    low = Candidate(replace(DEFAULT, threshold=0.4), default)
    figures = evaluate(default, [low], [low], WINDOWS)["standard"]
    assert figures.fixed == pytest.approx(0.0)          # two misses = the null detector
    assert figures.dev > 80 and figures.dev_threshold == pytest.approx(0.45)
    assert figures.cross_validated == pytest.approx(figures.dev)  # 0.4 counts them too
    assert figures.cv_sweep == pytest.approx(figures.dev)
