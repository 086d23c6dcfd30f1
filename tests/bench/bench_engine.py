"""Rule engine throughput on one core: 100,000 series × 3 rules (threshold bands, change vs
previous with hysteresis, zscore window 30), fed in batches.

Run: .venv/bin/python -m tests.bench.bench_engine [series] [batches]"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: before numpy loads

import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from services.detector.rules import Engine, MetricSpec, RuleSpec  # noqa: E402

METRIC = MetricSpec(name="shop.load", interval="1m", retention="35d")
RULES = {
    "threshold-bands": RuleSpec.model_validate({
        "name": "load-high", "metric": "shop.load",
        "bands": [{"level": "P1", "when": {"value": {}, "above": 180}},
                  {"level": "P3", "when": {"value": {}, "between": [160, 180]}}]}),
    "change-previous": RuleSpec.model_validate({
        "name": "load-jump", "metric": "shop.load", "severity": "P2",
        "when": {"change": {"reference": "previous", "unit": "pct"}, "above": 50},
        "for": 2, "clear_after": 3}),
    "zscore-30": RuleSpec.model_validate({
        "name": "load-odd", "metric": "shop.load", "severity": "P3",
        "when": {"deviation": {"method": "zscore", "window": 30}, "outside": [-4.5, 4.5]}}),
}


def build(n_series: int) -> tuple[Engine, np.ndarray]:
    engine = Engine()
    for key, rule in RULES.items():
        engine.set_rule(key, rule, METRIC)
    ids = np.array([engine.series("shop.load", f"shop-{i:06d}", {"region": f"r{i % 20}"})
                    for i in range(n_series)], dtype=np.int64)
    return engine, ids


def run(engine: Engine, batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[float, list[float], int]:
    latencies, transitions = [], 0
    started = time.perf_counter()
    for series, ts, values in batches:
        t0 = time.perf_counter()
        transitions += len(engine.evaluate(series, ts, values).transitions)
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - started, latencies, transitions


def steady_batches(ids: np.ndarray, count: int, t0: float, rng) -> list:
    """One sample per series per batch, a minute apart, in shuffled order."""
    out = []
    for b in range(count):
        order = rng.permutation(len(ids))
        values = 100 + 10 * rng.standard_normal(len(ids))
        out.append((ids[order], np.full(len(ids), t0 + 60.0 * b), values))
    return out


def mixed_batches(ids: np.ndarray, count: int, t0: float, rng) -> list:
    """Batches of the same size where a quarter of the series send 2–4 samples and others none."""
    out, n = [], len(ids)
    for b in range(count):
        picked = rng.choice(n, size=n // 4, replace=False)
        repeats = rng.integers(2, 5, size=len(picked))
        series = np.repeat(ids[picked], repeats)
        offsets = np.concatenate([np.arange(r) for r in repeats]) * 60.0
        series, offsets = series[: n], offsets[: n]
        order = rng.permutation(len(series))
        ts = t0 + 240.0 * b + offsets
        values = 100 + 10 * rng.standard_normal(len(series))
        out.append((series[order], ts[order], values[order]))
    return out


def report(name: str, elapsed: float, latencies: list[float], samples: int, transitions: int) -> None:
    ms = np.array(latencies) * 1e3
    print(f"{name:<34} {samples / elapsed:>12,.0f} samples/s   batch p50 {np.percentile(ms, 50):6.1f} ms"
          f"   p99 {np.percentile(ms, 99):6.1f} ms   transitions {transitions}")


def main() -> None:
    n_series = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n_batches = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    rng = np.random.default_rng(7)
    t_build = time.perf_counter()
    engine, ids = build(n_series)
    print(f"{n_series:,} series × {len(RULES)} rules, registered in {time.perf_counter() - t_build:.1f}s")
    t0 = 1_700_000_040.0
    warm = steady_batches(ids, 35, t0, rng)
    run(engine, warm)  # fills the zscore windows so every rule is past warm-up
    steady = steady_batches(ids, n_batches, t0 + 60.0 * 35, rng)
    elapsed, latencies, transitions = run(engine, steady)
    report("steady (1 sample/series/batch)", elapsed, latencies, sum(len(b[0]) for b in steady), transitions)
    mixed = mixed_batches(ids, max(n_batches // 4, 5), t0 + 60.0 * (35 + n_batches) + 60, rng)
    elapsed, latencies, transitions = run(engine, mixed)
    report("mixed (2–4 samples/series/batch)", elapsed, latencies, sum(len(b[0]) for b in mixed), transitions)
    print("state bytes per series per rule:")
    for key, total in engine.state_bytes().items():
        rule = engine.rules[key]
        print(f"  {key:<18} {total / n_series:8.1f} B   ({rule.bytes_per_slot} B per slot + per-series index)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process RSS {_rss_mb():,.0f} MB now, {peak_mb:,.0f} MB peak")


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            line = next(row for row in status if row.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return float("nan")


if __name__ == "__main__":
    main()
