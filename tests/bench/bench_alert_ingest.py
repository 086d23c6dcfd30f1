"""Alertmanager webhooks into the running detector service (`closedloop serve detector`, its
own process, real PostgreSQL and NATS): 4 concurrent senders post webhook bodies of 64 alerts.

Two phases: a storm with 80% re-sends (each body: 13 new alerts, 51 already sent), then
re-sends only. Prints accepted alerts/s, request p50/p99, the detector's CPU time per alert,
the status codes seen, and checks that every alert sent was raised exactly once (the sum of
`raised` over all answers).

Run: .venv/bin/python -m tests.bench.bench_alert_ingest [storm_alerts] [resend_alerts] [replicas]
With replicas > 1 the senders spread their requests over that many detector processes."""
from __future__ import annotations

import http.client
import os
import random
import sys
import threading
import time
from collections import Counter

import httpx
import orjson

from tests.bench.bench_ingest import _ready, _rss, serve
from tests.bench.infra import percentile, servers
from tests.harness import INGEST_KEY, wait_until

PER_BODY, NEW_PER_BODY, SENDERS = 64, 13, 4


def alert(i: int) -> dict:
    return {"status": "firing", "fingerprint": f"{i:016x}",
            "labels": {"alertname": "StoreDown", "instance": f"store-{i:06d}", "job": "pos",
                       "severity": "critical"},
            "annotations": {"summary": f"store {i} stopped sending sales"},
            "startsAt": "2026-11-21T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph"}


def webhook(alerts: list[dict]) -> bytes:
    return orjson.dumps({"version": "4", "status": "firing", "receiver": "closedloop",
                         "groupKey": "{}:{alertname=\"StoreDown\"}", "alerts": alerts,
                         "groupLabels": {"alertname": "StoreDown"}, "commonLabels": {},
                         "commonAnnotations": {}, "externalURL": "http://alertmanager:9093"})


def storm(total: int, first: int, rng: random.Random) -> tuple[list[bytes], int]:
    """Bodies of 13 new alerts and 51 re-sends of alerts sent before; returns the bodies and
    the next unused alert number."""
    bodies, sent = [], list(range(first))
    for _ in range(total // PER_BODY):
        new = list(range(len(sent), len(sent) + NEW_PER_BODY))
        again = [rng.choice(sent) for _ in range(PER_BODY - NEW_PER_BODY)] if sent else []
        sent += new
        bodies.append(webhook([alert(i) for i in new + again]))
    return bodies, len(sent)


def resends(total: int, known: int, rng: random.Random) -> list[bytes]:
    return [webhook([alert(rng.randrange(known)) for _ in range(PER_BODY)])
            for _ in range(total // PER_BODY)]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the detector processes have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def send(ports: list[int], bodies: list[bytes], pids: list[int],
         route: str = "/v1/ingest/alertmanager") -> dict:
    """SENDERS threads, each with a keep-alive connection, take bodies until none are left.
    A 202 (PagerDuty's answer, one event a body) counts as one accepted alert."""
    todo, lock = iter(bodies), threading.Lock()
    latencies: list[float] = []
    statuses: Counter = Counter()
    totals = Counter()

    def sender(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", ports[n % len(ports)], timeout=120)
        headers = {"Content-Type": "application/json", "X-API-Key": INGEST_KEY}
        while True:
            with lock:
                body = next(todo, None)
            if body is None:
                return
            t = time.perf_counter()
            conn.request("POST", route, body, headers)
            response = conn.getresponse()
            answer = response.read()
            elapsed = time.perf_counter() - t
            with lock:
                latencies.append(elapsed)
                statuses[response.status] += 1
                if response.status == 200:
                    totals.update(orjson.loads(answer))
                elif response.status == 202:
                    totals["accepted"] += 1

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
    started, cpu = time.perf_counter(), cpu_seconds(pids)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"elapsed": time.perf_counter() - started, "cpu": cpu_seconds(pids) - cpu,
            "latencies": latencies, "statuses": dict(statuses), **totals}


def report(name: str, result: dict) -> None:
    """Wall-clock rate and latency depend on what else runs on the machine; the detector's
    own CPU per alert much less so."""
    lat, accepted = result["latencies"], result.get("accepted", 0)
    print(f"  {name:<18} {accepted / result['elapsed']:>9,.0f} alerts/s  "
          f"request p50 {percentile(lat, 50) * 1000:.1f} ms  p99 {percentile(lat, 99) * 1000:.1f} ms  "
          f"detector CPU {result['cpu'] / max(accepted, 1) * 1e6:.0f} µs/alert  "
          f"raised {result.get('raised', 'n/a')}  statuses {result['statuses']}")


def main(storm_alerts: int = 20_480, resend_alerts: int = 64_000, replicas: int = 1) -> None:
    rng = random.Random(8)
    with servers() as (nats_url, db_url):
        ports = [18190 + n for n in range(replicas)]
        procs = [serve(nats_url, db_url, port) for port in ports]
        try:
            for port in ports:
                client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
                wait_until(lambda: _ready(client), timeout=120, message="detector ready")
            print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
                  f"{replicas} detector process(es), {SENDERS} senders, {PER_BODY} alerts a body")
            warm, known = storm(PER_BODY * 20, 0, rng)
            pids = [p.pid for p in procs]
            results = [send(ports, warm, pids)]  # connections, first saves, code paths warmed
            bodies, known = storm(storm_alerts, known, rng)
            results.append(send(ports, bodies, pids))
            report("storm 80% re-sent", results[-1])
            results.append(send(ports, resends(resend_alerts, known, rng), pids))
            report("re-sends only", results[-1])
            # Every alert sent is firing: each must have been raised once over all answers
            # (a refused request stores nothing; a later re-send of its alerts raises them).
            raised = sum(r.get("raised", 0) for r in results)
            print(f"  {known} distinct alerts sent, {raised} raised: "
                  f"{'each once' if raised == known else 'MISMATCH'}")
            print("  detector RSS " + ", ".join(f"{_rss(p.pid) / 1024:.0f} MiB" for p in procs))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(10)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
