"""Sample → notification latency on an idle stack: the time from POST /v1/samples to the
webhook receiving the signed notification, through detector, incidents and notifier over
real HTTP, NATS and PostgreSQL. Prints p50/p99 and the services' memory.

Run: .venv/bin/python -m tests.bench.bench_latency [alerts]"""
from __future__ import annotations

import resource
import sys
import time
import uuid

from services.detector.main import create_app as detector_app
from services.detector.settings import DetectorSettings
from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from services.notifier.main import create_app as notifier_app
from services.notifier.settings import NotifierSettings
from closedloop.demo import DEMO_SECRET, WebhookReceiver
from tests.bench.infra import percentile, servers
from tests.harness import API_KEYS, NOTIFIER_SAFETY, RunningService, wait_until


def main(alerts: int) -> None:
    with servers() as (nats_url, db_url):
        common = dict(database_url=db_url, nats_url=nats_url, api_keys=API_KEYS)
        services = [RunningService(detector_app(DetectorSettings(**common))),
                    RunningService(incidents_app(IncidentsSettings(**common))),
                    RunningService(notifier_app(NotifierSettings(**common, **NOTIFIER_SAFETY)))]
        for s in services:
            s.start()
        detector, _, notifier = (s.client() for s in services)
        receiver = WebhookReceiver(DEMO_SECRET)
        try:
            channel = notifier.post("/v1/channels", json={
                "name": "bench", "kind": "webhook", "url": receiver.url("/bench"),
                "secret": DEMO_SECRET}).json()["id"]
            notifier.post("/v1/policies", json={
                "name": "bench", "severities": ["P1"], "notify": [channel],
                "escalate_after_seconds": 3600, "escalate_to": [channel]}).raise_for_status()
            detector.put("/v1/metrics/catalogue", json=[{"name": "bench.value"}]).raise_for_status()
            detector.post("/v1/rules", json={"name": "bench", "metric": "bench.value",
                                             "when": {"value": {}, "above": 10},
                                             "severity": "P1"}).raise_for_status()
            latencies = []
            for i in range(alerts):
                entity = f"store-{uuid.uuid4().hex[:8]}"
                started = time.perf_counter()
                detector.post("/v1/samples", json={"samples": [
                    {"metric": "bench.value", "entity": entity, "value": 99}]}).raise_for_status()
                wait_until(lambda: any(entity in str(r["body"]) for r in receiver.received),
                           30, "notification", interval=0.002)
                latencies.append(time.perf_counter() - started)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"alerts: {alerts} (one at a time, idle stack)")
            print(f"sample → notification p50: {percentile(latencies, 50) * 1000:.0f} ms")
            print(f"sample → notification p99: {percentile(latencies, 99) * 1000:.0f} ms")
            print(f"max RSS of the process running three services: {rss:.0f} MiB")
        finally:
            receiver.close()
            for s in services:
                s.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
