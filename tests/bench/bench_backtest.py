"""Backtest replay speed, sample by sample (the engine) and along time (vectorised), on one
long series per rule kind; and a 26-candidate sweep over one NAB file, both ways.

Run: .venv/bin/python -m tests.bench.bench_backtest [samples]
NAB data: ``<repo>/../shared/data/nab-dev`` or env NAB_DATA (the sweep is skipped without it)."""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: before numpy loads

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from services.detector.rules import MetricSpec, RuleSpec  # noqa: E402
from services.detector.rules.backtest import read_samples_csv, read_windows, sweep  # noqa: E402
from services.detector.rules.backtest.replay import Prepared, replay  # noqa: E402
from tests.bench.bench_nab import data_dir  # noqa: E402

METRIC = MetricSpec(name="load", interval="1m", retention="35d")
WHEN = {
    "value above": {"value": {}, "above": 4.0},
    "change vs previous": {"change": {"reference": "previous", "unit": "pct"}, "above": 80},
    "change vs day": {"change": {"reference": "day", "unit": "abs"}, "outside": [-5, 5]},
    "streak up 6": {"streak": {"direction": "up"}, "at_least": 6},
    "zscore window 30": {"deviation": {"method": "zscore", "window": 30}, "outside": [-4, 4]},
    "ewma span 30": {"deviation": {"method": "ewma", "window": 30}, "above": 4},
    "mad window 30": {"deviation": {"method": "mad", "window": 30}, "above": 6},
}
ENGINE_SAMPLES = 100_000   # the sample-by-sample path is timed on a prefix: it is slow


def rule(when: dict) -> RuleSpec:
    return RuleSpec.model_validate({"name": "bench", "metric": "load", "severity": "P2",
                                    "when": when, "clear_after": 3})


def series(n: int) -> list[tuple]:
    rng = np.random.default_rng(7)
    values = 10 + np.sin(np.arange(n) / 1440 * 2 * np.pi) + rng.normal(0, 0.5, n)
    values[rng.integers(0, n, n // 5000)] += 8.0
    t0 = 1_700_000_000.0
    return [("load", "shop-1", {}, t0 + 60.0 * k, float(v)) for k, v in enumerate(values)]


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def replay_speed(n: int) -> None:
    rows = series(n)
    prepared = Prepared(rule(WHEN["value above"]), rows)
    prep_s, _ = timed(lambda: (prepared.history(60.0), prepared.notes(60.0, None)))
    print(f"one series of {n:,} samples (1-minute interval); preparing arrays and history "
          f"notes once (a sweep shares them): {n / prep_s:,.0f} samples/s")
    print(f"{'rule':<20} {'engine samples/s':>18} {'along time samples/s':>22} {'speed-up':>9}"
          f"  alerts")
    for name, when in WHEN.items():
        spec = rule(when)
        head = Prepared(spec, rows[:ENGINE_SAMPLES])
        slow_s, slow = timed(lambda: replay(spec, head, METRIC, along_time=False))
        assert replay(spec, head, METRIC).alerts == slow.alerts, name   # the same alerts
        fast_s, fast = timed(lambda: replay(spec, prepared, METRIC))
        before, after = ENGINE_SAMPLES / slow_s, n / fast_s
        print(f"{name:<20} {before:>18,.0f} {after:>22,.0f} {after / before:>8.0f}x"
              f"  {len(fast.alerts)}")
    spec = rule(WHEN["zscore window 30"])
    cold_s, _ = timed(lambda: replay(spec, rows, METRIC))
    print(f"end to end from sample tuples (filter, sort, arrays, notes, zscore): "
          f"{n / cold_s:,.0f} samples/s")


def nab_sweep() -> None:
    root = data_dir()
    name = "realKnownCause/machine_temperature_system_failure.csv"
    if not (root / "data" / name).exists():
        print(f"no NAB data at {root}: sweep skipped (set NAB_DATA)")
        return
    metric = MetricSpec(name="temp", interval="5m", retention="400d")
    samples = read_samples_csv((root / "data" / name).read_text(), metric="temp", entity="m")
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())
    windows = read_windows(labels[name])
    spec = RuleSpec.model_validate({"name": "temp-odd", "metric": "temp", "severity": "P2",
                                    "when": {"deviation": {"method": "zscore", "window": 288},
                                             "outside": [-3, 3]}})
    print(f"\nsweep of when.outside.1 over {name} ({len(samples):,} samples), "
          "default candidates:")
    for label, along in (("engine", False), ("along time", True)):
        took, result = timed(lambda: sweep(spec, samples, windows, path="when.outside.1",
                                           metric=metric, along_time=along))
        print(f"  {label:<11} {len(result.rows)} candidates in {took:6.2f} s  "
              f"recommended {result.recommended and result.recommended['bound']}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 1_000_000
    replay_speed(n)
    nab_sweep()


if __name__ == "__main__":
    main()
