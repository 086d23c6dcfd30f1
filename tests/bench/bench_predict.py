"""Predictive alerts (the `predict` measure): cost per evaluation and lead time on seed-like
stores. Stores report NPS hourly with a daily rhythm; some drift down towards 55, the others
hold steady. One hour's samples of every store are one batch, as a live feed would send them.

Times are CPU seconds of this process (time.process_time), so other work on the machine
inflates them less than wall-clock time would.

Run: .venv/bin/python -m tests.bench.bench_predict [stores] [days]"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: before numpy loads

import sys  # noqa: E402
import time  # noqa: E402
from statistics import median  # noqa: E402

import numpy as np  # noqa: E402

from services.detector.rules import Engine, MetricSpec, RuleSpec  # noqa: E402
from services.detector.rules.backtest import predictions, replay  # noqa: E402

HOUR, DAY = 3600.0, 86400.0
T0 = 19675 * DAY
METRIC = MetricSpec(name="store.nps", interval="1h", retention="60d")


def rule(**predict) -> RuleSpec:
    return RuleSpec.model_validate({
        "name": "nps-heading-under-55", "metric": "store.nps", "severity": "P2",
        "when": {"predict": {"horizon": "2d", "season": "1d", **predict}, "below": 55},
        "for": 2, "clear_after": "6h"})


def stores(n: int, days: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """(values [store, hour], slope per day): half decline from day 4 at 1.5–4 points a day."""
    rng = np.random.default_rng(seed)
    hours = days * 24
    t = np.arange(hours)
    slope = np.where(np.arange(n) % 2 == 0, rng.uniform(-4.0, -1.5, n), 0.0)
    base = rng.uniform(66, 74, n)[:, None]
    phase = rng.integers(0, 24, n)[:, None]
    rhythm = rng.uniform(1, 3, n)[:, None] * np.sin(2 * np.pi * (t + phase) / 24)
    drift = np.clip(t - 96, 0, None)[None, :] * slope[:, None] / 24
    return base + rhythm + drift + rng.normal(0, 0.4, (n, hours)), slope


def cost(values: np.ndarray, spec: RuleSpec) -> dict[str, float]:
    engine = Engine()
    engine.set_rule("r", spec, METRIC)
    ids = np.array([engine.series("store.nps", f"store-{i:04d}", {}) for i in range(len(values))])
    started = time.process_time()
    for h in range(values.shape[1]):
        engine.evaluate(ids, np.full(len(ids), T0 + h * HOUR), values[:, h])
    elapsed = time.process_time() - started
    (measure,) = engine.rules["r"].measures.values()
    samples = values.size
    return {"us_per_sample": elapsed / samples * 1e6, "fits": measure.fits,
            "samples": samples, "seconds": elapsed,
            "bytes_per_series": engine.rules["r"].bytes_per_slot}


def fit_cost(values: np.ndarray, repeats: int = 20) -> float:
    from services.detector.rules.measures.predict import fit_ets
    fit_ets(values[0, :72], 24)  # the first fit imports statsmodels
    started = time.process_time()
    for i in range(repeats):
        fit_ets(values[i % len(values), :72], 24)
    return (time.process_time() - started) / repeats * 1e3


def lead_times(values: np.ndarray, spec: RuleSpec) -> dict[str, object]:
    samples = [("store.nps", f"store-{i:04d}", {}, T0 + h * HOUR, float(values[i, h]))
               for i in range(len(values)) for h in range(values.shape[1])]
    (report,) = predictions(spec, replay(spec, samples, METRIC), samples)
    return report


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    values, slope = stores(n, days)
    print(f"predict: {n} stores × {days} days hourly ({values.size:,} samples), "
          "season 1d, horizon 2d, bound below 55")
    print(f"  one statsmodels ETS fit (72 samples, season 24): {fit_cost(values):.1f} ms")
    for refit in (24, 72):
        c = cost(values, rule(refit=refit))
        print(f"  refit every {refit:>2} samples: {c['us_per_sample']:8.1f} µs/sample "
              f"({c['fits']:,} fits over {c['samples']:,} samples, {c['seconds']:.1f} s); "
              f"state {c['bytes_per_series']:,} B/series")
    online = cost(values, rule(refit=10_000))
    print(f"  no scheduled refit (first fit, early refits): {online['us_per_sample']:8.1f} "
          f"µs/sample ({online['fits']:,} fits)")
    crossing = [i for i in range(n) if (values[i] < 55).any()]
    print(f"  stores that really went under 55: {len(crossing)} of {n} "
          f"(slopes {median(slope[slope < 0]):.1f}/day median)")
    fmt = (lambda s: "n/a" if s is None else f"{s / HOUR:.1f} h")
    for confidence in (0.5, 0.7):
        report = lead_times(values, rule(min_confidence=confidence))
        lead = report["lead_time"]
        print(f"  min_confidence {confidence}: warnings {report['warnings']} (true "
              f"{report['true_warnings']}, false {report['false_warnings']}, undecided "
              f"{report['undecided_warnings']}); crossings {report['crossings']}, warned "
              f"{report['crossings_warned']}; lead time median {fmt(lead['median'])}, "
              f"mean {fmt(lead['mean'])}, p90 {fmt(lead['p90'])}, max {fmt(lead['max'])}")


if __name__ == "__main__":
    main()
