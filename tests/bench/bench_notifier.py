"""The notifier alone under an incident storm: a running notifier process (one webhook channel
to a local receiver, one policy for P0–P3), IncidentOpened contracts published straight to its
NATS stream, and the receiver timing each notification. Prints notifications/s, opened →
received p50/p95/p99, lost and doubled, and where a delivery's time went (from the event
store: opened → scheduled → claimed → received → recorded).

Run: .venv/bin/python -m tests.bench.bench_notifier [burst N | steady RATE SECONDS] ...
     e.g. `burst 1000`, `burst 10000`, `steady 250 20` (default: all three).
     PYSPY=1 samples the notifier with py-spy (PYSPY_ARGS="--gil" for CPU only)."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import nats
import uvicorn

from closedloop.embedded.ports import free_port
from shared.bus.streams import ensure_streams
from shared.contracts import CloudEvent, IncidentOpened
from tests.bench.infra import percentile, servers
from tests.harness import ADMIN_KEY, API_KEYS, NOTIFIER_SAFETY, wait_until

SECRET = "bench-webhook-secret-0123456789"
SEVERITIES = ("P0", "P1", "P2", "P3")


class Receiver:
    """An ASGI webhook receiver in a thread of its own, recording when each incident arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, float]] = []
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off",
                                                    interface="asgi3"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, 10, "the receiver")

    async def app(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.arrivals.append((json.loads(body)["incident"]["incident_id"], time.time()))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_notifier(db_url: str, nats_url: str, logs: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "NATS_URL": nats_url,
           "CLOSEDLOOP_API_KEYS": API_KEYS,
           "CLOSEDLOOP_NOTIFIER_SECRETS_KEY": NOTIFIER_SAFETY["secrets_key"],
           "CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS": NOTIFIER_SAFETY["allowed_networks"]}
    process = subprocess.Popen(
        [sys.executable, "-m", "closedloop.cli", "serve", "notifier", "--port", str(port)],
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
    with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_KEY}, timeout=10) as client:
        channel = client.post("/v1/channels", json={
            "name": "bench", "kind": "webhook", "url": receiver.url(), "secret": SECRET})
        channel.raise_for_status()
        client.post("/v1/policies", json={
            "name": "bench", "severities": list(SEVERITIES), "notify": [channel.json()["id"]],
            "escalate_after_seconds": 3600, "escalate_to": [channel.json()["id"]],
        }).raise_for_status()


def contract(n: int) -> IncidentOpened:
    incident_id = f"inc-{uuid.uuid4().hex[:12]}"
    now = datetime.now(timezone.utc)
    severity = SEVERITIES[n % 4]
    return IncidentOpened(
        incident_id=incident_id, ref=f"{severity}-2026-11-{n:05d}", fingerprint=f"fp-{incident_id}",
        severity=severity, title="store offline", entity=f"store-{n}",
        alert_id=f"alert-{incident_id}", opened_at=now, respond_by=now + timedelta(minutes=15),
        resolve_by=now + timedelta(hours=4))


def envelope(c: IncidentOpened) -> CloudEvent:
    return CloudEvent(id=f"incidents:{uuid.uuid4()}", source="closedloop/incidents",
                      type=IncidentOpened.type_name(), time=c.opened_at,
                      data=c.model_dump(mode="json"))


async def publish(js, contracts: list[IncidentOpened], rate: float | None) -> None:
    """All at once (pipelined) when rate is None, else evenly spaced."""
    started = time.perf_counter()
    acks = []
    for n, c in enumerate(contracts):
        if rate is not None:
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            c = c.model_copy(update={"opened_at": datetime.now(timezone.utc)})
            contracts[n] = c
        e = envelope(c)
        acks.append(await js.publish_async(c.type_name(), e.to_bytes(),
                                           headers={"Nats-Msg-Id": e.id}))
    await asyncio.gather(*acks)


async def run_load(nats_url: str, receiver: Receiver, count: int,
                   rate: float | None) -> list[IncidentOpened]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(publish_async_max_pending=20_000)
        await ensure_streams(js)
        contracts = [contract(n) for n in range(count)]
        if rate is None:  # a burst: every incident opened at the same moment
            now = datetime.now(timezone.utc)
            contracts = [c.model_copy(update={"opened_at": now}) for c in contracts]
        await publish(js, contracts, rate)
        return contracts
    finally:
        await nc.close()


def stages(db_url: str, ids: set[str]) -> dict[str, list[float]]:
    """Per delivery, from the notifier's event store: the timestamps its events carry."""
    import psycopg

    from services.notifier.app import NotifierApplication
    from services.notifier.channels import EgressPolicy
    from services.notifier.domain import Delivery
    from services.notifier.sealing import Sealer
    from shared.clock import SystemClock
    from shared.store import eventsourcing_env

    app = NotifierApplication(eventsourcing_env(db_url, "notifier"), SystemClock(),
                              sealer=Sealer(""), egress=EgressPolicy())
    table = f'notifier."{app.recorder.events_table_name}"'
    found: dict[str, dict[str, float]] = {}
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(f"SELECT originator_id, originator_version, topic, state FROM {table} "
                            "WHERE topic LIKE '%Delivery.%'").fetchall()
    from eventsourcing.persistence import StoredEvent
    for oid, version, topic, state in rows:
        e = app.mapper.to_domain_event(StoredEvent(oid, version, topic, bytes(state)))
        name = type(e).__name__
        found.setdefault(str(oid), {})[name] = e.timestamp.timestamp()
        if name == "Scheduled":
            found[str(oid)]["incident"] = e.incident_id  # type: ignore[assignment]
    app.close()
    return {str(v["incident"]): v for v in found.values() if v.get("incident") in ids}


def report(title: str, contracts: list[IncidentOpened], receiver: Receiver,
           db_url: str) -> None:
    opened = {c.incident_id: c.opened_at.timestamp() for c in contracts}
    arrivals = [(i, t) for i, t in receiver.arrivals if i in opened]
    first: dict[str, float] = {}
    for incident_id, at in arrivals:
        first.setdefault(incident_id, at)
    counts = Counter(i for i, _ in arrivals)
    latencies = [first[i] - opened[i] for i in first]
    span = max(first.values()) - min(opened.values())
    print(f"== {title} ==")
    print(f"notifications: {len(first)} of {len(opened)} in {span:.2f} s → "
          f"{len(first) / span:.0f}/s; lost {len(opened) - len(first)}, "
          f"doubled {sum(1 for n in counts.values() if n > 1)}")
    print("opened → received  p50 {:.1f} ms  p95 {:.1f} ms  p99 {:.1f} ms  max {:.1f} ms".format(
        *(percentile(latencies, p) * 1000 for p in (50, 95, 99, 100))))
    per = stages(db_url, set(first))
    legs = {"opened → scheduled": [], "scheduled → claimed": [], "claimed → received": [],
            "received → recorded": []}
    for incident_id, s in per.items():
        if "AttemptStarted" not in s or "Delivered" not in s:
            continue
        legs["opened → scheduled"].append(s["Scheduled"] - opened[incident_id])
        legs["scheduled → claimed"].append(s["AttemptStarted"] - s["Scheduled"])
        legs["claimed → received"].append(first[incident_id] - s["AttemptStarted"])
        legs["received → recorded"].append(s["Delivered"] - first[incident_id])
    worst = max(first, key=lambda i: first[i] - opened[i])
    s = per.get(worst, {})
    print(f"  slowest: opened +{(first[worst] - opened[worst]) * 1000:.0f} ms; " + ", ".join(
        f"{name} +{(s[name] - opened[worst]) * 1000:.0f}" for name in
        ("Scheduled", "AttemptStarted", "AttemptFailed", "Delivered") if name in s))
    for leg, values in legs.items():
        if values:
            print(f"  {leg:<22} p50 {percentile(values, 50) * 1000:7.1f} ms   "
                  f"p99 {percentile(values, 99) * 1000:7.1f} ms")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, limit: float = 120.0) -> None:
    """Wait until the notifier has digested the previous phase (its relay and projection run
    behind the sends): under 5% of a core for a second."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.05:
            return


def profile(pid: int, logs: Path, title: str) -> subprocess.Popen | None:
    """With PYSPY=1, py-spy samples the notifier (all threads, idle ones left out) into
    collapsed stacks beside its log."""
    if not os.environ.get("PYSPY"):
        return None
    out = logs / (title.replace(" ", "_").replace("/", "") + ".collapsed")
    print(f"  profile: {out}")
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p",
                             str(pid), "-o", str(out), "--format", "raw", "-r", "200", *os.environ.get("PYSPY_ARGS", "").split()],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(plan: list[tuple[str, int, float | None]]) -> None:
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min average, 2 cores shared)")
    logs = Path(tempfile.mkdtemp(prefix="closedloop-bench-notifier-"))
    with servers() as (nats_url, db_url):
        receiver = Receiver()
        process, url = start_notifier(db_url, nats_url, logs)
        try:
            configure(url, receiver)
            for title, count, rate in plan:
                settle(process.pid)
                receiver.arrivals.clear()
                cpu = cpu_seconds(process.pid)
                profiler = profile(process.pid, logs, title)
                contracts = asyncio.run(run_load(nats_url, receiver, count, rate))
                ids = {c.incident_id for c in contracts}
                wait_until(lambda: len({i for i, _ in receiver.arrivals} & ids) >= count,
                           600, f"{count} notifications", interval=0.05)
                if profiler is not None:
                    profiler.send_signal(2)
                    profiler.wait(30)
                time.sleep(0.5)  # let the last outcomes be recorded
                report(title, contracts, receiver, db_url)
                print(f"  notifier CPU: {(cpu_seconds(process.pid) - cpu) / count * 1000:.2f} "
                      "ms per notification")
        finally:
            process.terminate()
            process.wait(20)
            receiver.close()
    print(f"load after: {os.getloadavg()[0]:.2f}; notifier log: {logs / 'notifier.log'}")


def parse(argv: list[str]) -> list[tuple[str, int, float | None]]:
    if not argv:
        argv = ["burst", "1000", "burst", "10000", "steady", "250", "20"]
    plan, args = [], list(argv)
    while args:
        kind = args.pop(0)
        if kind == "burst":
            n = int(args.pop(0))
            plan.append((f"burst of {n}", n, None))
        elif kind == "steady":
            rate, seconds = float(args.pop(0)), float(args.pop(0))
            plan.append((f"steady {rate:.0f}/s for {seconds:.0f} s", int(rate * seconds), rate))
        else:
            raise SystemExit(__doc__)
    return plan


if __name__ == "__main__":
    run(parse(sys.argv[1:]))
