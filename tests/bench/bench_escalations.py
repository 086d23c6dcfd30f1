"""Escalation ladders under load: a running notifier (its clock shifted on command), N open
incidents on a two-step ladder (step 0 at the opening, step 1 after a delay nobody
acknowledges), and a local webhook receiver timing each step 1. Prints steps/s, the delay
between each step's due time and its webhook arriving (p50/p99/max), lost and doubled, and the
notifier's memory. Two shapes: every step due at the same instant, and due times spread at a
steady rate. Nothing here asserts on time.

Run: .venv/bin/python -m tests.bench.bench_escalations [once N | spread N RATE] ...
     default: `once 10000 spread 10000 50`; BENCH_ESCALATIONS=N changes the 10,000.
     CLOSEDLOOP_ESCALATION_BATCH (passed through) sets the notifier's escalation batch;
     PYSPY=1 samples the notifier with py-spy while the steps fire."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import nats

from closedloop.embedded.ports import free_port
from shared.bus.streams import ensure_streams
from shared.contracts import IncidentOpened
from tests.bench.bench_notifier import (
    SECRET, SEVERITIES, Receiver, contract, cpu_seconds, envelope, profile, settle,
)
from tests.bench.infra import percentile, servers
from tests.harness import ADMIN_KEY, API_KEYS, NOTIFIER_SAFETY, wait_until

STEP0_DELAY = 600.0  # seconds step 0 waits: far longer than opening N incidents takes


class ShiftedClock:
    """Wall time plus an offset the bench writes to a file: the notifier's timers see the
    future arrive at once, while sends, leases and timeouts keep real seconds in between."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.checked = path, timedelta(0), 0.0

    def now(self) -> datetime:
        if time.monotonic() - self.checked > 0.02:
            self.checked = time.monotonic()
            try:
                self.offset = timedelta(seconds=float(self.path.read_text() or 0))
            except (OSError, ValueError):
                pass  # written just now: the next look reads it
        return datetime.now(timezone.utc) + self.offset


def shift(path: Path, seconds: float) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(repr(seconds))
    tmp.replace(path)  # atomic: the notifier never reads half a number


def serve(port: int, offset_file: Path) -> None:
    """The notifier process: the service as `closedloop serve notifier` runs it, with the
    shifted clock."""
    import uvicorn

    from services.notifier.main import create_app
    uvicorn.run(create_app(clock=ShiftedClock(offset_file)), host="127.0.0.1", port=port,
                log_level="warning")


class StepReceiver(Receiver):
    """Records (incident, reason, arrival) for every webhook."""

    async def app(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        sent = json.loads(body)
        self.arrivals.append((sent["incident"]["incident_id"], sent["reason"], time.time()))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def start_notifier(db_url: str, nats_url: str, logs: Path,
                   offset_file: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "NATS_URL": nats_url,
           "CLOSEDLOOP_API_KEYS": API_KEYS,
           "CLOSEDLOOP_NOTIFIER_SECRETS_KEY": NOTIFIER_SAFETY["secrets_key"],
           "CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS": NOTIFIER_SAFETY["allowed_networks"]}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.bench_escalations", "serve", str(port),
         str(offset_file)],
        env=env, stdout=open(logs / "notifier.log", "ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
    wait_until(ready, 60, "the notifier to become ready", interval=0.2)
    return process, url


def configure(url: str, receiver: Receiver) -> None:
    """One webhook channel, one policy: step 0 and step 1 both tell it."""
    with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_KEY}, timeout=10) as client:
        channel = client.post("/v1/channels", json={
            "name": "bench", "kind": "webhook", "url": receiver.url(), "secret": SECRET})
        channel.raise_for_status()
        target = [{"kind": "channel", "ref": channel.json()["id"]}]
        client.post("/v1/policies", json={
            "name": "bench-ladder", "severities": list(SEVERITIES), "steps": [
                {"targets": target, "delay_seconds": STEP0_DELAY},
                {"targets": target, "delay_seconds": 3600}],
        }).raise_for_status()


async def open_incidents(nats_url: str, contracts: list[IncidentOpened]) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(publish_async_max_pending=20_000)
        await ensure_streams(js)
        acks = []
        for c in contracts:
            e = envelope(c)
            acks.append(await js.publish_async(c.type_name(), e.to_bytes(),
                                               headers={"Nats-Msg-Id": e.id}))
        await asyncio.gather(*acks)
    finally:
        await nc.close()


def arrived(receiver: Receiver, reason: str, ids: set[str]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for incident_id, why, at in list(receiver.arrivals):
        if why == reason and incident_id in ids:
            found.setdefault(incident_id, []).append(at)
    return found


def fired_at(db_url: str, ids: set[str]) -> dict[str, datetime]:
    """When each incident's step 1 fired, on the notifier's clock (its Escalated event)."""
    import psycopg
    from eventsourcing.persistence import StoredEvent

    from services.notifier.app import NotifierApplication
    from services.notifier.channels import EgressPolicy
    from services.notifier.sealing import Sealer
    from shared.clock import SystemClock
    from shared.store import eventsourcing_env

    app = NotifierApplication(eventsourcing_env(db_url, "notifier"), SystemClock(),
                              sealer=Sealer(""), egress=EgressPolicy())
    table = f'notifier."{app.recorder.events_table_name}"'
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(f"SELECT originator_id, originator_version, topic, state FROM {table} "
                            "WHERE topic LIKE '%Escalation.Escalated'").fetchall()
    found = {}
    for oid, version, topic, state in rows:
        e = app.mapper.to_domain_event(StoredEvent(oid, version, topic, bytes(state)))
        if e.incident_id in ids and e.step == 1:
            found[e.incident_id] = e.at
    app.close()
    return found


def memory_mib(pid: int) -> tuple[float, float]:
    """The notifier's resident memory now and at its peak (VmRSS, VmHWM)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text()
                  .splitlines() if ":" in line)
    rss, peak = (int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))
    return rss, peak


def run_shape(title: str, count: int, rate: float | None, nats_url: str, db_url: str,
              process: subprocess.Popen, receiver: StepReceiver, offset_file: Path,
              offset: float) -> float:
    """Opens `count` incidents whose step 1 falls due all at `due` (rate None) or `rate` a
    second from `due`, waits for every step 0, then moves the notifier's clock to `due` and
    times every step 1. Returns the offset the clock is left at."""
    base = datetime.now(timezone.utc) + timedelta(seconds=offset)  # the notifier's now
    spacing = timedelta(seconds=1 / rate) if rate else timedelta(0)
    contracts = [contract(n) for n in range(count)]
    contracts = [c.model_copy(update={"opened_at": base + n * spacing,
                                      "respond_by": base + timedelta(days=1),
                                      "resolve_by": base + timedelta(days=2)})
                 for n, c in enumerate(contracts)]
    ids = {c.incident_id for c in contracts}
    due = {c.incident_id: c.opened_at + timedelta(seconds=STEP0_DELAY) for c in contracts}
    opening = time.monotonic()
    asyncio.run(open_incidents(nats_url, contracts))
    wait_until(lambda: len(arrived(receiver, "incident.opened", ids)) >= count, 900,
               f"step 0 of {count} incidents", interval=0.2)
    opened_in = time.monotonic() - opening
    settle(process.pid)  # the escalations read model has every timer

    cpu, first_due = cpu_seconds(process.pid), min(due.values())
    # From now on the notifier's clock reads first_due: the offset turns wall into its time.
    offset = (first_due - datetime.now(timezone.utc)).total_seconds()
    profiler = profile(process.pid, offset_file.parent, title)
    shift(offset_file, offset)
    started = time.time()
    wait_until(lambda: len(arrived(receiver, "escalation.step1", ids)) >= count,
               1800, f"step 1 of {count} incidents", interval=0.2)
    if profiler is not None:
        profiler.send_signal(2)
        profiler.wait(30)
    steps = arrived(receiver, "escalation.step1", ids)
    finished = max(min(ats) for ats in steps.values())
    delays = [min(ats) + offset - due[i].timestamp() for i, ats in steps.items()]
    doubled = sum(1 for ats in steps.values() if len(ats) > 1)
    rss, peak = memory_mib(process.pid)
    span = finished - started
    print(f"== {title} ==")
    print(f"  opened {count} incidents (step 0 told) in {opened_in:.1f} s")
    print(f"  step 1: {len(steps)} of {count} in {span:.1f} s → {len(steps) / span:.0f} steps/s; "
          f"lost {count - len(steps)}, doubled {doubled}")
    print("  due → handed to the channel  p50 {:.3f} s  p99 {:.3f} s  max {:.3f} s".format(
        *(percentile(delays, p) for p in (50, 99, 100))))
    fired = fired_at(db_url, ids)
    legs = {"due → fired": [(fired[i] - due[i]).total_seconds() for i in fired],
            "fired → handed": [min(steps[i]) + offset - fired[i].timestamp()
                               for i in fired if i in steps]}
    for leg, values in legs.items():
        if values:
            print(f"    {leg:<15} p50 {percentile(values, 50):.3f} s  "
                  f"p99 {percentile(values, 99):.3f} s")
    print(f"  notifier CPU {(cpu_seconds(process.pid) - cpu) / count * 1000:.2f} ms per step; "
          f"RSS {rss:.0f} MiB (peak {peak:.0f} MiB)")
    # Every counted webhook appears once per reason (a second one would be a double send).
    extra = Counter(r for i, r, _ in receiver.arrivals if i in ids)
    print(f"  webhooks by reason: {dict(extra)}")
    return offset


def run(plan: list[tuple[str, int, float | None]]) -> None:
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min average, 2 cores shared); escalation "
          f"batch {os.environ.get('CLOSEDLOOP_ESCALATION_BATCH', 'default')}")
    logs = Path(tempfile.mkdtemp(prefix="closedloop-bench-escalations-"))
    offset_file = logs / "clock-offset"
    shift(offset_file, 0.0)
    with servers() as (nats_url, db_url):
        receiver = StepReceiver()
        process, url = start_notifier(db_url, nats_url, logs, offset_file)
        offset = 0.0
        try:
            configure(url, receiver)
            for title, count, rate in plan:
                settle(process.pid)
                offset = run_shape(title, count, rate, nats_url, db_url, process, receiver,
                                   offset_file, offset)
        finally:
            process.terminate()
            process.wait(20)
            receiver.close()
    print(f"load after: {os.getloadavg()[0]:.2f}; notifier log: {logs / 'notifier.log'}")


def parse(argv: list[str]) -> list[tuple[str, int, float | None]]:
    n = int(os.environ.get("BENCH_ESCALATIONS", "10000"))
    if not argv:
        argv = ["once", str(n), "spread", str(n), "50"]
    plan, args = [], list(argv)
    while args:
        kind = args.pop(0)
        if kind == "once":
            count = int(args.pop(0))
            plan.append((f"{count} steps due at once", count, None))
        elif kind == "spread":
            count, rate = int(args.pop(0)), float(args.pop(0))
            plan.append((f"{count} steps due {rate:.0f}/s", count, rate))
        else:
            raise SystemExit(__doc__)
    return plan


def main(argv: list[str] | None = None) -> None:
    run(parse(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
