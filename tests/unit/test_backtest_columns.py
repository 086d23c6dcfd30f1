"""The array reading of a history gives what the Python-level reading gave: np.median's
floats from sorted windows, Python's stable time order, the first time-ordered series ids."""
from __future__ import annotations

import numpy as np
import pytest

from services.detector.rules.backtest.along_time import _middle
from services.detector.rules.backtest.columns import columns


@pytest.mark.parametrize("width", [1, 2, 3, 4, 7, 30, 31])
def test_sorted_windows_give_np_median_floats(width):
    rng = np.random.default_rng(width)
    for values in (rng.normal(0, 1, 3000), np.round(rng.normal(0, 1, 3000), 1),
                   rng.integers(0, 3, 3000).astype(float), rng.normal(1e12, 1, 3000)):
        windows = np.lib.stride_tricks.sliding_window_view(values, width)
        median = np.median(windows, axis=1)
        ordered = np.sort(windows, axis=1)
        assert np.array_equal(_middle(ordered), median)
        spread = np.median(np.abs(windows - median[:, None]), axis=1)
        assert np.array_equal(_middle(np.sort(np.abs(ordered - median[:, None]), axis=1)),
                              spread)


def test_columns_keep_pythons_stable_time_order_and_first_labels():
    rows = [("m", "b", {"k": "1"}, 120.0, 1.0), ("m", "a", {}, 60.0, 2.0),
            ("m", "b", {"k": "1"}, 60.0, 3.0), ("m", "a", {}, 60.0, 4.0)]
    cols = columns(rows)
    assert [rows[i] for i in cols.order] == sorted(rows, key=lambda s: s[3])
    assert cols.keys == [("m", "b"), ("m", "a")]
    assert cols.series.tolist() == [0, 1, 0, 1]
    assert cols.labels == [{"k": "1"}, {}]
    assert cols.first_in_time.tolist() == [1, 0]   # a shows first in time order
