"""PagerDuty Events API v2 ingest beside the Alertmanager intake, into the running detector
service (its own process, real PostgreSQL and NATS), 4 concurrent senders.

PagerDuty takes one event per request, so both formats are sent the same way first: one
alert per request, new alerts, then re-sends of them. Alertmanager bodies of 64 alerts
follow for reference (its usual shape). Prints alerts/s, request p50/p99 and the detector's
CPU per alert for each; both go through the same ingest path (docs/adr/alert-sources.md).

Run: .venv/bin/python -m tests.bench.bench_pd_ingest [alerts]"""
from __future__ import annotations

import os
import sys

import httpx
import orjson

from tests.bench.bench_alert_ingest import PER_BODY, SENDERS, alert, report, send, webhook
from tests.bench.bench_ingest import _ready, serve
from tests.bench.infra import servers
from tests.harness import wait_until

ROUTING_KEY = "benchR0UTINGKEY0123456789abcdef0"
# No rate limit: the bench measures the intake, not PagerDuty's 120 a minute.
SOURCES = {"pagerduty": [{"name": "bench", "routing_key": ROUTING_KEY, "rate_limit": "off"}]}


def trigger(i: int) -> bytes:
    return orjson.dumps({
        "routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": f"{i:016x}",
        "payload": {"summary": f"store {i} stopped sending sales", "source": f"store-{i:06d}",
                    "severity": "critical", "component": "pos", "class": "StoreDown",
                    "timestamp": "2026-11-21T10:00:00Z"},
        "client": "bench", "client_url": "http://monitoring.example"})


def main(alerts: int = 4000) -> None:
    os.environ["CLOSEDLOOP_ALERT_SOURCES"] = orjson.dumps(SOURCES).decode()
    with servers() as (nats_url, db_url):
        port = 18290
        proc = serve(nats_url, db_url, port)
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
            wait_until(lambda: _ready(client), timeout=120, message="detector ready")
            pids = [proc.pid]
            print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
                  f"1 detector process, {SENDERS} senders")
            send([port], [trigger(10**9 + i) for i in range(200)], pids, "/v2/enqueue")  # warm-up
            send([port], [webhook([alert(10**9 + i)]) for i in range(200)], pids)
            pd = [trigger(i) for i in range(alerts)]
            am = [webhook([alert(alerts + i)]) for i in range(alerts)]
            print(" one alert per request:")
            report("PagerDuty new", send([port], pd, pids, "/v2/enqueue"))
            report("Alertmanager new", send([port], am, pids))
            report("PagerDuty re-sent", send([port], pd, pids, "/v2/enqueue"))
            report("Alertmanager re-sent", send([port], am, pids))
            print(f" Alertmanager, {PER_BODY} alerts a body:")
            bodies = [webhook([alert(2 * alerts + b * PER_BODY + i) for i in range(PER_BODY)])
                      for b in range(alerts // PER_BODY)]
            report("new", send([port], bodies, pids))
            report("re-sent", send([port], bodies, pids))
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
