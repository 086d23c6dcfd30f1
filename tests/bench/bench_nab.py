"""NAB score of the adaptive scorer on the dev split, plus its throughput.

Run: .venv/bin/python -m tests.bench.bench_nab
Data: ``<repo>/../shared/data/nab-dev`` (dev.txt, data/, labels/combined_windows.json), or
the directory in env NAB_DATA. Scores come from running the causal scorer over the raw files;
the labels are used only by the NAB scoring."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from services.detector.adaptive import AdaptiveScorer, score_series
from tests.bench import nab_scorer

REPO = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    return Path(os.environ.get("NAB_DATA") or REPO / ".." / "shared" / "data" / "nab-dev")


def dev_files(root: Path) -> list[str]:
    lines = (root / "dev.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def load_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(timestamps as datetime64[ns], values) of a NAB 'timestamp,value' CSV."""
    rows = [line.split(",") for line in path.read_text().splitlines()[1:] if line.strip()]
    stamps = np.array([r[0].strip() for r in rows], dtype="datetime64[ns]")
    return stamps, np.array([float(r[1]) for r in rows])


def epoch_seconds(stamps: np.ndarray) -> np.ndarray:
    return stamps.astype("datetime64[ms]").astype(np.int64) / 1000.0


def main() -> None:
    root = data_dir()
    windows = nab_scorer.load_windows(root / "labels" / "combined_windows.json")
    files = {name: load_csv(root / "data" / name) for name in dev_files(root)}

    results, points, batch_s = {}, 0, 0.0
    for name, (stamps, values) in files.items():
        started = time.process_time()
        scores = score_series(values, epoch_seconds(stamps))
        batch_s += time.process_time() - started
        results[name] = (stamps, scores)
        points += len(values)

    # The per-point path, on a slice large enough to time.
    update_points, update_s = 0, 0.0
    for name, (stamps, values) in list(files.items())[:6]:
        scorer, secs = AdaptiveScorer(), epoch_seconds(stamps).tolist()
        started = time.process_time()
        for v, t in zip(values.tolist(), secs):
            scorer.update(v, t)
        update_s += time.process_time() - started
        update_points += len(values)

    profiles = nab_scorer.score_corpus(results, windows)
    print(f"NAB dev split: {len(files)} files, {points} points, "
          f"{sum(len(windows[n]) for n in files)} windows ({root})")
    for name, r in profiles.items():
        print(f"  {name:20s} score {r.score:6.2f}   threshold {r.threshold:.4f}   "
              f"raw {r.raw:7.2f}  (null {r.null:.1f})")
    # CPU time of this process: on a shared machine wall time measures the neighbours too
    print(f"throughput per CPU-second: score_series {points / batch_s:,.0f} points/s, "
          f"update {update_points / update_s:,.0f} points/s; "
          f"state {AdaptiveScorer().state_bytes()} bytes per series")
    standard = profiles["standard"]
    print(f"\n{'file':58s} {'rows':>6s} {'windows':>7s} {'alerts':>6s} {'standard':>8s}")
    for name, (stamps, scores) in results.items():
        scored = scores[int(nab_scorer.probation_length(len(scores))):]
        alerts = int((scored >= standard.threshold).sum())
        print(f"{name:58s} {len(scores):6d} {len(windows[name]):7d} {alerts:6d} "
              f"{standard.per_file[name]:8.2f}")


if __name__ == "__main__":
    main()
