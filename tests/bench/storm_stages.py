"""Where an alert's time goes on its way to the webhook: runs one storm scenario against a fresh
stack whose services export their spans to their logs (CLOSEDLOOP_OTEL_EXPORTER=console), joins
each page's spans by message id and parent span, and prints per stage p50/p95/p99, and which
stage held the slowest 5% of alerts. Spans cost a little CPU: compare its end-to-end figures
with a plain bench_storm run made in the same conditions. Asserts nothing.

Stages (each from the end of the one before):
  queued    the first body's send → the detector's request span starts (bench + uvicorn)
  ingest    → the detector's relay publishes the AlertRaised (store commit + relay wake)
  to-inc    → the incidents consumer handles it (NATS, fetch, the batch's earlier messages)
  incident  → the incidents relay publishes IncidentOpened (rest of batch, commit, relay wake)
  to-notif  → the notifier consumer handles it
  claim     → the send starts (rest of batch, commit, hand-off, a free lane)
  send      → the receiver has the page

Run: .venv/bin/python -m tests.bench.storm_stages [steady-250|burst-1k] [--duration 20]"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from datetime import datetime
from pathlib import Path

from tests.bench.bench_storm import SETTLE, scenarios
from tests.bench.storm import load, systems
from tests.bench.storm.receiver import Pages, Receiver, SECRET

STAGES = ("queued", "ingest", "to-inc", "incident", "to-notif", "claim", "send")


def spans_in(log: Path) -> list[dict]:
    """The console exporter's pretty-printed JSON objects among the service's log lines."""
    spans, lines = [], None
    for line in log.read_text(errors="replace").splitlines():
        if line == "{":
            lines = [line]
        elif lines is not None:
            lines.append(line)
            if line == "}":
                try:
                    spans.append(json.loads("\n".join(lines)))
                except ValueError:
                    pass
                lines = None
    return spans


def wall(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


class Spans:
    def __init__(self, logs: Path) -> None:
        self.by_id: dict[str, dict] = {}
        self.by_message: dict[tuple[str, str], dict] = {}  # (span name, message id) → span
        self.sends: dict[str, dict] = {}  # delivery id → the send span
        for log in logs.glob("*.log"):
            for span in spans_in(log):
                self.by_id[span["context"]["span_id"]] = span
                attributes = span.get("attributes") or {}
                if message := attributes.get("messaging.message.id"):
                    self.by_message.setdefault((span["name"], message), span)
                if delivery := attributes.get("closedloop.delivery_id"):
                    self.sends.setdefault(str(delivery), span)

    def chain(self, delivery_id: str) -> list[float] | None:
        """Start times of: detector request, detector publish, incidents handle, incidents
        publish, notifier handle, send."""
        send = self.sends.get(delivery_id)
        handled = send and self.by_id.get(send.get("parent_id") or "")
        if not handled:
            return None
        message = handled["attributes"]["messaging.message.id"]
        opened = self.by_message.get(("incidents.OutboxRelay.publish", message))
        raised_handled = opened and self.by_id.get(opened.get("parent_id") or "")
        if not raised_handled:
            return None
        raised = raised_handled["attributes"]["messaging.message.id"]
        published = self.by_message.get(("detector.OutboxRelay.publish", raised))
        request = published and self.by_id.get(published.get("parent_id") or "")
        while request and request.get("parent_id") and request["parent_id"] in self.by_id:
            request = self.by_id[request["parent_id"]]  # up to the server span
        if not request:
            return None
        return [wall(s["start_time"]) for s in (request, published, raised_handled, opened,
                                               handled, send)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def wait_for(pages: Pages, run_id: str, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(pages.of(run_id)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(SETTLE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", nargs="?", default="steady-250")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=250.0)
    parser.add_argument("--warm", action="store_true",
                        help="page one batch of other alerts first (a stack past its cold start)")
    args = parser.parse_args()
    scenario = scenarios(args.duration, args.rate)[args.scenario]
    os.environ["CLOSEDLOOP_OTEL_EXPORTER"] = "console"
    os.environ.setdefault("OTEL_BSP_SCHEDULE_DELAY", "500")
    pages = Pages()
    receiver = Receiver(SECRET, pages.on_receive)
    homes: list[str] = []
    system = systems.closedloop_started(log=lambda line: homes.append(line.rsplit(" ", 1)[1]))
    try:
        systems.configure_closedloop(system, receiver.url("/closedloop"))
        if args.warm:
            warm_id = f"warm-{uuid.uuid4().hex[:6]}"
            asyncio.run(load.send(system.ingest_url, system.headers, load.plan(load.BATCH),
                                  system.body(warm_id)))
            wait_for(pages, warm_id, load.BATCH)
        run_id = f"{scenario.name}-{uuid.uuid4().hex[:6]}"
        sent = asyncio.run(load.send(system.ingest_url, system.headers,
                                     load.plan(scenario.sends, scenario.resend_share),
                                     system.body(run_id), rate=scenario.rate))
        wait_for(pages, run_id, len(sent.taken))
        offset = time.time() - time.monotonic()  # the bench's clock → the spans' wall clock
        spans = Spans(Path(homes[0]) / "logs")
        first, _ = receiver.snapshot()
        rows, starts = [], []
        for delivery, received in first.items():
            if not received.entity.startswith(run_id):
                continue
            chain = spans.chain(delivery)
            alert = int(received.entity.rsplit("-", 1)[1])
            at = pages.first.get(received.entity)
            if chain is None or alert not in sent.first_sent or at is None:
                continue
            times = [sent.first_sent[alert] + offset, *chain, at + offset]
            rows.append([b - a for a, b in zip(times, times[1:])])
            starts.append(sent.first_sent[alert] - sent.started)
    finally:
        system.stop()
        receiver.close()
    total = [sum(r) for r in rows]
    print(f"{scenario.name}: {len(rows)} pages joined to their spans")
    print(f"{'stage':10} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  share of slowest 5%")
    cut = percentile(total, 0.95)
    slow = [r for r, t in zip(rows, total) if t >= cut]
    for i, stage in enumerate(STAGES):
        values = [r[i] for r in rows]
        share = sum(r[i] for r in slow) / max(sum(map(sum, slow)), 1e-9)
        print(f"{stage:10} " + " ".join(f"{percentile(values, q) * 1000:7.0f}ms"
                                        for q in (0.5, 0.95, 0.99, 1.0)) + f"  {share:5.0%}")
    seconds = sorted({int(s) for s, t in zip(starts, total) if t >= cut})
    print(f"the slowest 5% were first sent in second(s) {seconds} of the run")
    print(f"{'total':10} " + " ".join(f"{percentile(total, q) * 1000:7.0f}ms"
                                      for q in (0.5, 0.95, 0.99, 1.0)))
    later = [t for s, t in zip(starts, total) if s >= 1.0]
    print(f"{'after 1 s':10} " + " ".join(f"{percentile(later, q) * 1000:7.0f}ms"
                                          for q in (0.5, 0.95, 0.99, 1.0)))


if __name__ == "__main__":
    main()
