"""Honest NAB figures for the adaptive scorer: plain dev score, leave-one-family-out
cross-validated score, and the score at the scorer's own fixed threshold.

Run: .venv/bin/python -m tests.bench.nab_cv [--grid]   (data: see bench_nab.data_dir)

* dev: NAB's way, the best single threshold swept over all 29 files (optimistic).
* cross-validated, leave one family out: for each of the seven families the threshold (and,
  for "cv+grid", the settings candidate) is chosen on the other six families only and the
  held-out family is scored at that choice; the seven held-out raw scores add up to one
  corpus score, normalised like NAB. "cv" chooses among scorer thresholds (the scorer's
  hold-off starts at the same threshold that counts a detection); "cv sweep" instead sweeps
  NAB's threshold over the default scores, as NAB does.
* fixed: the default settings at ``ANOMALY_THRESHOLD`` on every file, nothing tuned on labels.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from services.detector.adaptive import (ANOMALY_THRESHOLD, DEFAULT, AdaptiveScorer, Settings,
                                        score_series)
from tests.bench import nab_scorer
from tests.bench.bench_nab import data_dir, dev_files, epoch_seconds, load_csv

# Candidates the cross-validation may choose between: the default and one step either side
# on the parameters that matter most. Kept small on purpose: a large grid overfits too.
# Candidates the cross-validation may choose between: the default and one step either side
# on the parameters that matter most, each at a few thresholds. Kept small on purpose: a
# large grid overfits the training families too.
THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)
GRID: tuple[Settings, ...] = (
    DEFAULT,
    replace(DEFAULT, short=10), replace(DEFAULT, short=40),
    replace(DEFAULT, holdoff_fraction=0.025), replace(DEFAULT, holdoff_fraction=0.1),
    replace(DEFAULT, levels=0), replace(DEFAULT, range_tolerance=0.05),
)

Scored = dict[str, tuple[np.ndarray, np.ndarray]]  # file -> (timestamps, scores)
Rows = dict[str, nab_scorer.FileRows]


def family(name: str) -> str:
    return name.split("/", 1)[0]


@dataclass
class Candidate:
    settings: Settings
    scored: Scored
    sweep: bool = False  # True: NAB's swept threshold; False: the scorer's own threshold


@dataclass
class Figures:
    profile: str
    dev: float
    dev_threshold: float
    cv_sweep: float          # NAB threshold swept on six families, default settings
    cross_validated: float   # scorer threshold chosen on six families
    cross_validated_grid: float  # scorer threshold and settings candidate chosen on six
    fixed: float
    chosen: dict[str, tuple[int, float]]  # cv+grid: held-out family -> (candidate, threshold)


def _rows(scored: Scored, windows, cost) -> Rows:
    return {n: nab_scorer.sweep_rows(ts, sc, windows[n], cost) for n, (ts, sc) in scored.items()}


def _at(rows: Rows, names: list[str], cost, threshold: float) -> float:
    return sum(nab_scorer.file_score(rows[n], cost, threshold) for n in names)


def _cross_validate(candidates: list[Candidate], rows: list[Rows], cost
                    ) -> tuple[float, dict[str, tuple[int, float]]]:
    """Raw total of the held-out families, each scored at the (candidate, threshold) that is
    best on the other six; ties go to the earlier candidate."""
    names = list(rows[0])
    total, chosen = 0.0, {}
    for held in sorted({family(n) for n in names}):
        train = [n for n in names if family(n) != held]
        best = None
        for i, (cand, r) in enumerate(zip(candidates, rows)):
            if cand.sweep:
                threshold, raw = nab_scorer.optimise([r[n] for n in train], cost)
            else:
                threshold = cand.settings.threshold
                raw = _at(r, train, cost, threshold)
            if best is None or raw > best[0]:
                best = (raw, i, threshold)
        _, index, threshold = best
        chosen[held] = (index, threshold)
        total += _at(rows[index], [n for n in names if family(n) == held], cost, threshold)
    return total, chosen


def evaluate(default: Scored, thresholds: list[Candidate], grid: list[Candidate],
             windows: dict[str, list[list[str]]]) -> dict[str, Figures]:
    """Every figure for every profile: ``default`` holds the default settings' scores,
    ``thresholds`` the default at each candidate threshold, ``grid`` every candidate."""
    names = list(default)
    n_windows = sum(len(windows[n]) for n in names)
    out = {}
    for profile, cost in nab_scorer.PROFILES.items():
        null_rows = _rows({n: (ts, np.zeros(len(sc))) for n, (ts, sc) in default.items()},
                          windows, cost)
        _, null = nab_scorer.optimise(list(null_rows.values()), cost)

        def norm(raw: float) -> float:
            return nab_scorer.normalise(raw, null, n_windows, cost)

        rows = _rows(default, windows, cost)
        dev_threshold, dev_raw = nab_scorer.optimise(list(rows.values()), cost)
        sweep_raw, _ = _cross_validate([Candidate(DEFAULT, default, sweep=True)], [rows], cost)
        cv_raw, _ = _cross_validate(thresholds, [_rows(c.scored, windows, cost)
                                                 for c in thresholds], cost)
        grid_raw, chosen = _cross_validate(grid, [_rows(c.scored, windows, cost) for c in grid],
                                           cost)
        fixed_raw = _at(rows, names, cost, ANOMALY_THRESHOLD)
        out[profile] = Figures(profile, norm(dev_raw), dev_threshold, norm(sweep_raw),
                               norm(cv_raw), norm(grid_raw), norm(fixed_raw), chosen)
    return out


def score_corpus(files, settings: Settings,
                 scorer: Callable[..., np.ndarray] = score_series) -> tuple[Scored, float]:
    """Scores of every file under ``settings`` and the points/s it took."""
    out, points, started = {}, 0, time.process_time()
    for name, (stamps, values) in files.items():
        out[name] = (stamps, scorer(values, epoch_seconds(stamps), settings))
        points += len(values)
    return out, points / (time.process_time() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true", help="show each candidate's dev score")
    args = parser.parse_args(argv)
    root = data_dir()
    windows = nab_scorer.load_windows(root / "labels" / "combined_windows.json")
    files = {name: load_csv(root / "data" / name) for name in dev_files(root)}
    grid, speeds = [], []
    for base in GRID:
        for threshold in THRESHOLDS:
            settings = replace(base, threshold=threshold)
            scored, speed = score_corpus(files, settings)
            grid.append(Candidate(settings, scored))
            speeds.append(speed)
    default = next(c.scored for c in grid if c.settings == DEFAULT)
    figures = evaluate(default, grid[:len(THRESHOLDS)], grid, windows)
    print(f"NAB dev split: {len(files)} files, {sum(len(v) for _, v in files.values())} points; "
          f"{len(GRID)} settings x {len(THRESHOLDS)} thresholds; fixed threshold "
          f"{ANOMALY_THRESHOLD}")
    print(f"{'profile':20s} {'dev':>7s} {'cv sweep':>8s} {'cv':>7s} {'cv+grid':>7s} "
          f"{'fixed':>7s}  dev threshold")
    for f in figures.values():
        print(f"{f.profile:20s} {f.dev:7.2f} {f.cv_sweep:8.2f} {f.cross_validated:7.2f} "
              f"{f.cross_validated_grid:7.2f} {f.fixed:7.2f}  {f.dev_threshold:.4f}")
    print("standard, cv+grid's choice per held-out family:")
    for held, (index, threshold) in figures["standard"].chosen.items():
        print(f"  {held:24s} {_differs(grid[index].settings)}")
    print(f"throughput: {min(speeds):,.0f}..{max(speeds):,.0f} points per CPU-second "
          "(score_series); "
          f"state {AdaptiveScorer().state_bytes()} bytes per series")
    if args.grid:
        for c in grid:
            r = nab_scorer.score_corpus(c.scored, windows)["standard"]
            print(f"  standard dev {r.score:6.2f}  at own threshold "
                  f"{_norm_at(c, windows):6.2f}  {_differs(c.settings)}")


def _differs(settings: Settings) -> str:
    """The settings that differ from the defaults, e.g. 'short=10 threshold=0.45'."""
    changed = [f"{k}={getattr(settings, k)}" for k in ("scales", "short", "memory", "warmup",
               "range_tolerance", "levels", "holdoff", "holdoff_fraction", "threshold")
               if getattr(settings, k) != getattr(DEFAULT, k)]
    return " ".join(changed) or "defaults"


def _norm_at(c: Candidate, windows) -> float:
    cost = nab_scorer.PROFILES["standard"]
    rows = _rows(c.scored, windows, cost)
    null = -cost["fnWeight"] * sum(len(windows[n]) for n in rows)
    raw = _at(rows, list(rows), cost, c.settings.threshold)
    return nab_scorer.normalise(raw, null, sum(len(windows[n]) for n in rows), cost)


if __name__ == "__main__":
    main()
