"""NAB scoring (Numenta Anomaly Benchmark v1.1), reimplemented from numenta/NAB's
nab/sweeper.py, nab/optimizer.py, nab/runner.py (normalize) and config/profiles.json.

What NAB does, and what this module reproduces:

* Each labelled anomaly sits in a window (labels/combined_windows.json). A detection is a
  row whose anomaly score is >= the threshold.
* Rows before the probationary length ``min(floor(0.15 * rows), 0.15 * 5000)`` are not scored.
* Inside a window a row is worth ``scaledSigmoid(-(right - i + 1) / width) * A_TP / maxTP``
  (the earlier, the closer to A_TP); a window counts only its best (= first) detection and
  costs ``-A_FN`` when nothing is detected in it.
* Outside windows a detection costs ``scaledSigmoid(dist past previous window) * A_FP``,
  i.e. -A_FP far from any window and less right after one.
* The threshold is swept over every distinct score of the whole corpus at once and the best
  one kept (one global threshold for all files, ties go to the highest threshold).
* The raw total is normalised: ``100 * (raw - null) / (perfect - null)``, where ``null`` is the
  optimised score of the detector that never detects and ``perfect = windows * A_TP``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROBATION_PERCENT = 0.15

# config/profiles.json (tnWeight is 1.0 in every profile and unused by the scoring).
PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11},
}


def scaled_sigmoid(position: float) -> float:
    """-1 (left window edge) -> ~0.987, 0 (right edge) -> 0, > 3 (far past) -> -1."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probation_length(rows: int, percent: float = PROBATION_PERCENT) -> float:
    return min(math.floor(percent * rows), percent * 5000)


@dataclass
class FileRows:
    """One file's scorable rows: anomaly score, NAB weight if detected, window id (-1: none)."""
    scores: np.ndarray
    weights: np.ndarray
    window: np.ndarray
    n_windows: int  # windows with at least one scorable row


def window_indices(timestamps: np.ndarray, windows: list[list[str]]) -> list[tuple[int, int]]:
    """Window limits -> (left, right) row indices; NAB requires exact timestamp matches."""
    out = []
    for start, end in windows:
        pair = []
        for t in (np.datetime64(start), np.datetime64(end)):
            i = int(np.searchsorted(timestamps, t))
            if i >= len(timestamps) or timestamps[i] != t:
                raise ValueError(f"window limit {t} is not a timestamp of the file")
            pair.append(i)
        out.append((pair[0], pair[1]))
    return out


def _scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """Vector form of :func:`scaled_sigmoid`."""
    with np.errstate(over="ignore"):
        return np.where(position > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0)


def sweep_rows(timestamps: np.ndarray, scores: np.ndarray, windows: list[list[str]],
               cost: dict[str, float]) -> FileRows:
    """Sweeper.calcSweepScore for one file, minus the probationary rows."""
    n = len(scores)
    idx = np.arange(n, dtype=float)
    weights = np.full(n, -1.0 * cost["fpWeight"])  # far from (or before) any window
    window = np.full(n, -1, dtype=np.int64)
    limits = window_indices(np.asarray(timestamps, dtype="datetime64[ns]"), windows)
    for wid, (left, right) in enumerate(limits):
        width = float(right - left + 1)
        inside = slice(left, right + 1)
        weights[inside] = _scaled_sigmoid(-(right - idx[inside] + 1) / width) * cost["tpWeight"] / MAX_TP
        window[inside] = wid
        # Until the next window, false positives cost less the closer they are to this one.
        after = slice(right + 1, limits[wid + 1][0] if wid + 1 < len(limits) else n)
        weights[after] = _scaled_sigmoid(np.abs(right - idx[after]) / (width - 1.0)) * cost["fpWeight"]
    keep = idx >= probation_length(n)
    kept_windows = window[keep]
    return FileRows(np.asarray(scores, dtype=float)[keep], weights[keep], kept_windows,
                    len(set(kept_windows[kept_windows >= 0].tolist())))


def score_by_threshold(files: list[FileRows], cost: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Sweeper.calcScoreByThreshold over the concatenated rows of ``files``.

    Returns (thresholds, raw scores): the first threshold is 1.1 (nothing detected), then
    every distinct anomaly score in descending order, each with the total for ``score >= t``."""
    scores = np.concatenate([f.scores for f in files]) if files else np.empty(0)
    weights = np.concatenate([f.weights for f in files]) if files else np.empty(0)
    offsets = np.cumsum([0] + [int(f.window.max(initial=-1)) + 1 for f in files])
    window = np.concatenate([np.where(f.window >= 0, f.window + off, -1)
                             for f, off in zip(files, offsets)]) if files else np.empty(0, int)
    n_windows = sum(f.n_windows for f in files)
    base = -cost["fnWeight"] * n_windows
    order = np.argsort(-scores, kind="stable")
    s, w, win = scores[order], weights[order], window[order]
    gain = np.where(win < 0, w, 0.0)  # every false positive adds its (negative) weight
    # A window is worth its best detection so far (the earliest row); credit only improvements.
    in_win = np.flatnonzero(win >= 0)
    if len(in_win):
        by_window = in_win[np.argsort(win[in_win], kind="stable")]
        ids, starts = np.unique(win[by_window], return_index=True)
        for a, b in zip(starts, list(starts[1:]) + [len(by_window)]):
            rows = by_window[a:b]  # this window's rows, in sweep order
            best = np.maximum.accumulate(np.concatenate(([-cost["fnWeight"]], w[rows])))
            gain[rows] = np.diff(best)
    total = base + np.cumsum(gain)
    last_of_level = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if len(s) else np.empty(0, int)
    thresholds = np.r_[1.1, s[last_of_level]]
    raw = np.r_[base, total[last_of_level]]
    return thresholds, raw


def optimise(files: list[FileRows], cost: dict[str, float]) -> tuple[float, float]:
    """nab/optimizer.py: the best (threshold, raw score); ties go to the highest threshold."""
    thresholds, raw = score_by_threshold(files, cost)
    best = int(np.argmax(raw))
    return float(thresholds[best]), float(raw[best])


def file_score(rows: FileRows, cost: dict[str, float], threshold: float) -> float:
    """A file's raw score at ``threshold`` (rows with score >= threshold are detections)."""
    thresholds, raw = score_by_threshold([rows], cost)
    reached = np.flatnonzero(thresholds >= threshold)
    return float(raw[reached[-1]])


def normalise(raw: float, null: float, n_windows: int, cost: dict[str, float]) -> float:
    perfect = n_windows * cost["tpWeight"]
    return 100.0 * (raw - null) / (perfect - null)


@dataclass
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    null: float
    score: float
    per_file: dict[str, float]


def score_corpus(results: dict[str, tuple[np.ndarray, np.ndarray]],
                 windows: dict[str, list[list[str]]]) -> dict[str, ProfileResult]:
    """``results``: file -> (timestamps as datetime64, anomaly scores). Scores every profile."""
    n_windows = sum(len(windows[name]) for name in results)
    out = {}
    for profile, cost in PROFILES.items():
        files = {name: sweep_rows(ts, sc, windows[name], cost) for name, (ts, sc) in results.items()}
        null_files = {name: sweep_rows(ts, np.zeros(len(sc)), windows[name], cost)
                      for name, (ts, sc) in results.items()}
        threshold, raw = optimise(list(files.values()), cost)
        _, null = optimise(list(null_files.values()), cost)
        per_file = {name: file_score(rows, cost, threshold) for name, rows in files.items()}
        out[profile] = ProfileResult(profile, threshold, raw, null,
                                     normalise(raw, null, n_windows, cost), per_file)
    return out


def load_windows(path: str | Path) -> dict[str, list[list[str]]]:
    with open(path) as f:
        return json.load(f)
