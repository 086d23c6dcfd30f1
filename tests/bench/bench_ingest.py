"""Samples through the detector service: HTTP batch ingest → evaluation → sample store →
alert events in the outbox, over real HTTP and PostgreSQL. The detector runs as its own process
(`closedloop serve detector`); this process only sends pre-encoded batches.

Run: .venv/bin/python -m tests.bench.bench_ingest [series] [batches]"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import numpy as np
import orjson

from tests.bench.infra import percentile, servers
from tests.harness import ADMIN_KEY, API_KEYS
from tests.harness import wait_until

RULES = [
    {"name": "bench threshold", "metric": "bench.orders", "bands": [
        {"level": "P1", "when": {"value": {}, "below": 20}},
        {"level": "P2", "when": {"value": {}, "between": [20, 30]}}]},
    {"name": "bench day-over-day", "metric": "bench.orders", "severity": "P2", "for": 2,
     "when": {"change": {"reference": "previous", "unit": "pct"}, "below": -30}},
    {"name": "bench deviation", "metric": "bench.orders", "severity": "P3",
     "when": {"deviation": {"method": "zscore", "window": 30}, "outside": [-4, 4]}},
]


def serve(nats_url: str, db_url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "NATS_URL": nats_url,
           "CLOSEDLOOP_API_KEYS": API_KEYS, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "closedloop.cli", "serve", "detector",
                             "--port", str(port)], env=env)


def batches(series: int, count: int, per_batch: int, shape: str,
            day: int) -> tuple[list[bytes], int]:
    """Each batch gives a slice of the series (or all of them, several days each) new daily
    samples; returns the bodies and the next unused day."""
    rng = np.random.default_rng(day)
    entities = [f"store-{i:06d}" for i in range(series)]
    days_per_batch = max(1, per_batch // series)
    out = []
    for b in range(count):
        start = (b * per_batch) % series if per_batch < series else 0
        chosen = entities[start:start + per_batch]
        values = rng.normal(100, 10, size=(len(chosen), days_per_batch)).round(1)
        ts = [1_700_000_000.0 + (day + k) * 86400 for k in range(days_per_batch)]
        if start + per_batch >= series:
            day += days_per_batch  # every series has had these days: move on
        if shape == "series":
            body = {"series": [{"metric": "bench.orders", "entity": e, "ts": ts, "values": v.tolist()}
                               for e, v in zip(chosen, values)]}
        else:
            body = {"samples": [{"metric": "bench.orders", "entity": e, "ts": t, "value": x}
                                for e, v in zip(chosen, values) for t, x in zip(ts, v.tolist())]}
        out.append(orjson.dumps(body))
    return out, day


def run(client: httpx.Client, bodies: list[bytes]) -> tuple[float, list[float], int]:
    latencies, samples = [], 0
    started = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        r = client.post("/v1/samples", content=body, headers={"Content-Type": "application/json"})
        r.raise_for_status()
        samples += r.json()["accepted"]
        latencies.append(time.perf_counter() - t)
    return time.perf_counter() - started, latencies, samples


def main(series: int = 20_000, count: int = 40, per_batch: int = 20_000) -> None:
    with servers() as (nats_url, db_url):
        port = 18181
        proc = serve(nats_url, db_url, port)
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                  headers={"X-API-Key": ADMIN_KEY})
            wait_until(lambda: _ready(client), timeout=60, message="detector ready")
            client.put("/v1/metrics/catalogue", json=[
                {"name": "bench.orders", "interval": "1d"}]).raise_for_status()
            for rule in RULES:
                client.post("/v1/rules", json=rule).raise_for_status()
            print(f"{series} series × {len(RULES)} rules, batches of {per_batch} samples")
            day = 0
            for shape in ("series", "samples"):
                bodies, day = batches(series, count, per_batch, shape, day)
                run(client, bodies[:3])  # warm up: first batches create the series
                elapsed, latencies, samples = run(client, bodies[3:])
                print(f"  {shape:<8} {samples / elapsed:>10,.0f} samples/s  "
                      f"batch p50 {percentile(latencies, 50) * 1000:.0f} ms  "
                      f"p99 {percentile(latencies, 99) * 1000:.0f} ms  "
                      f"({sum(len(b) for b in bodies[3:]) / elapsed / 1e6:.1f} MB/s of JSON)")
            rss = _rss(proc.pid)
            print(f"  detector RSS {rss / 1024:.0f} MiB")
        finally:
            proc.terminate()
            proc.wait(10)


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
