"""People told on their own media: a running notifier (its own process), 1,000 store managers
each with one contact on one of three media (a regional DingTalk or WeCom group robot through
Apprise, e-mail over SMTP with STARTTLS, SMS through an SMSEagle gateway through Apprise), a
store network of one unit per store with its 店长, and one policy paging the entity's 店长
when a P1 opens. Every receiver is local and takes 50 ms per message.

Two phases, IncidentOpened contracts published straight to the notifier's NATS stream:
1. idle: one incident at a time (after three warm-ups, one per medium), opened → the first
   message accepted by its receiver (its answer sent), p50/p99 per medium and overall;
2. burst: a regional outage, one incident per store opened at once (1,000 messages, one per
   person): messages handed to the channels' services per second, accepted per second, and
   the notifier's CPU and memory.

Run: .venv/bin/python -m tests.bench.bench_channels
     BENCH_PEOPLE (1000), BENCH_SAMPLES (50), BENCH_BURST (BENCH_PEOPLE),
     BENCH_RECEIVER_MS (50) scale it;
     CLOSEDLOOP_APPRISE_THREADS is passed on to the notifier; PYSPY=1 samples the notifier
     with py-spy in each phase (see bench_notifier.py)."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import nats

from closedloop.embedded.ports import free_port
from shared.bus.streams import ensure_streams
from shared.contracts import IncidentOpened
from tests.bench.bench_notifier import cpu_seconds, envelope, profile, settle, stages
from tests.bench.channel_receivers import Receivers
from tests.bench.infra import percentile, servers
from tests.harness import API_KEYS, MANAGER_KEY, NOTIFIER_SAFETY, wait_until

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "1000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "50"))
BURST = int(os.environ.get("BENCH_BURST", str(PEOPLE)))  # incidents in the burst
WRITERS = int(os.environ.get("BENCH_WRITERS", "2"))  # API clients writing the organisation
DELAY = float(os.environ.get("BENCH_RECEIVER_MS", "50")) / 1000
REGIONS = 10  # each with its own group robot: even regions on DingTalk, odd on WeCom
MEDIA = ("chat", "email", "sms")
ROLE = "店长"
IDLE_REFS = 90_000  # idle incidents' ref numbers start here, the burst's at 0


def start_notifier(db_url: str, nats_url: str, receivers: Receivers,
                   logs: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "NATS_URL": nats_url,
           "CLOSEDLOOP_API_KEYS": API_KEYS,
           "CLOSEDLOOP_NOTIFIER_SECRETS_KEY": NOTIFIER_SAFETY["secrets_key"],
           "CLOSEDLOOP_NOTIFIER_ALLOWED_NETWORKS": NOTIFIER_SAFETY["allowed_networks"],
           # The receivers' test CA: aiohttp and aiosmtplib read SSL_CERT_FILE, requests
           # (Apprise) REQUESTS_CA_BUNDLE.
           "SSL_CERT_FILE": str(receivers.ca.ca_file),
           "REQUESTS_CA_BUNDLE": str(receivers.ca.ca_file)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.channels_notifier", str(receivers.robot_port),
         "serve", "notifier", "--port", str(port)],
        env=env, stdout=open(logs / "notifier.log", "ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
    wait_until(ready, 60, "the notifier to become ready", interval=0.2)
    return process, url


def person(i: int) -> dict:
    medium = MEDIA[i % 3]
    contact = {
        "chat": {"medium": "chat", "address": f"@店长{i:04d}", "channel": f"robot-{i % REGIONS}"},
        "email": {"medium": "email", "address": f"sm{i:04d}@stores.example.cn",
                  "channel": "mail"},
        "sms": {"medium": "sms", "address": f"+86 138 {i:04d} 0000", "channel": "sms"},
    }[medium]
    return {"handle": f"sm.{i:04d}", "name": f"店长{i:04d}", "contacts": [contact]}


def configure(url: str, receivers: Receivers) -> None:
    """Channels, people, the store network (one unit per store under its region) and the
    policy, through the API as an operator would (`closedloop directory apply` does the
    same)."""
    def post(client: httpx.Client, path: str, body: dict) -> None:
        made = client.post(path, json=body)
        while made.status_code == 409 and "same moment" in made.text:
            # Every entry is listed on the organisation: concurrent writers meet there.
            made = client.post(path, json=body)
        if made.status_code != 201:
            raise SystemExit(f"POST {path}: {made.status_code} {made.text}")

    with httpx.Client(base_url=url, headers={"X-API-Key": MANAGER_KEY}, timeout=30) as client:
        for r in range(REGIONS):
            post(client, "/v1/channels", {
                "name": f"robot-{r}", "kind": "dingtalk" if r % 2 == 0 else "wecom",
                "url": f"dingtalk://t0ken{r:04d}/" if r % 2 == 0 else f"wecombot://k3y{r:04d}"})
            post(client, "/v1/units", {"key": f"region-{r}", "name": f"战区{r}"})
        post(client, "/v1/channels", {"name": "mail", "kind": "email", "url": (
            f"smtp://127.0.0.1:{receivers.smtp_port}/?from=alerts@stores.example.cn")})
        post(client, "/v1/channels", {"name": "sms", "kind": "sms",
                                      "url": f"smseagle://t0ken@127.0.0.1:{receivers.sms_port}/"})

        def store(i: int) -> None:
            post(client, "/v1/people", person(i))
            post(client, "/v1/units", {"key": f"store-{i:04d}", "name": f"门店{i:04d}",
                                       "parent": f"region-{i % REGIONS}",
                                       "roles": {ROLE: [f"sm.{i:04d}"]},
                                       "entities": [f"store-{i:04d}"]})
        started = time.perf_counter()
        with ThreadPoolExecutor(WRITERS) as threads:
            list(threads.map(store, range(PEOPLE)))
        print(f"organisation: {PEOPLE} people and stores written in "
              f"{time.perf_counter() - started:.1f} s")
        # After the stores: a role nobody holds is refused.
        post(client, "/v1/policies", {"name": "page-store-manager", "severities": ["P1"],
                                      "steps": [{"targets": [{"kind": "role", "ref": ROLE}],
                                                 "delay_seconds": 3600}]})


def contract(n: int, store: int) -> IncidentOpened:
    incident_id = f"inc-{uuid.uuid4().hex[:12]}"
    now = datetime.now(timezone.utc)
    return IncidentOpened(
        incident_id=incident_id, ref=f"P1-2026-12-{n:05d}", fingerprint=f"fp-{incident_id}",
        severity="P1", title="门店断网", entity=f"store-{store:04d}",
        alert_id=f"alert-{incident_id}", opened_at=now, respond_by=now + timedelta(minutes=15),
        resolve_by=now + timedelta(hours=4))


async def publish(nats_url: str, contracts: list[IncidentOpened]) -> None:
    """All at once (pipelined), each stamped opened the moment before it is published."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream(publish_async_max_pending=20_000)
        await ensure_streams(js)
        acks = []
        for n, c in enumerate(contracts):
            contracts[n] = c = c.model_copy(update={"opened_at": datetime.now(timezone.utc)})
            e = envelope(c)
            acks.append(await js.publish_async(c.type_name(), e.to_bytes(),
                                               headers={"Nats-Msg-Id": e.id}))
        await asyncio.gather(*acks)
    finally:
        await nc.close()


def first_accepted(receivers: Receivers) -> dict[str, tuple[str, float, float]]:
    """Per incident ref: its medium, when its first message arrived and was accepted."""
    found: dict[str, tuple[str, float, float]] = {}
    for a in sorted(receivers.arrivals, key=lambda a: a.accepted):
        ref = a.ref()
        if ref is not None:
            found.setdefault(ref, (a.medium, a.arrived, a.accepted))
    return found


def ms(values: list[float], p: float) -> str:
    return f"{percentile(values, p) * 1000:6.1f}" if values else "     -"


def idle(nats_url: str, db_url: str, receivers: Receivers, samples: int) -> None:
    """One incident at a time, the next once the previous was accepted and recorded."""
    measured: list[tuple[IncidentOpened, float]] = []  # and when it arrived
    latencies: dict[str, list[float]] = defaultdict(list)
    arrivals: dict[str, list[float]] = defaultdict(list)
    for k in range(-3, samples):  # three warm-ups (one per medium), not counted
        sample = [contract(IDLE_REFS + k + 3, k % PEOPLE)]
        receivers.arrivals.clear()
        asyncio.run(publish(nats_url, sample))
        [c] = sample
        # Only the list's length is polled: the bench shares the notifier's two cores.
        wait_until(lambda: receivers.arrivals, 30, f"incident {c.ref} accepted",
                   interval=0.002)
        [got] = receivers.arrivals
        if got.ref() != c.ref:
            raise SystemExit(f"expected {c.ref}, the receiver got {got.ref()}")
        time.sleep(0.5)  # its outcome recorded: the next one starts at an idle notifier
        if k < 0:
            continue
        opened = c.opened_at.timestamp()
        measured.append((c, got.arrived))
        for key in (got.medium, "all"):
            latencies[key].append(got.accepted - opened)
            arrivals[key].append(got.arrived - opened)
    receivers.arrivals.clear()
    print(f"== idle: {samples} incidents one at a time, each paging one person "
          f"(receivers take {DELAY * 1000:.0f} ms) ==")
    print(f"{'':8} {'n':>4}  opened → arrived p50 / p99 ms   opened → accepted p50 / p99 ms")
    for key in (*MEDIA, "all"):
        print(f"{key:8} {len(latencies[key]):4}  {ms(arrivals[key], 50)} / {ms(arrivals[key], 99)}"
              f"                  {ms(latencies[key], 50)} / {ms(latencies[key], 99)}")
    legs(db_url, measured)


def legs(db_url: str, measured: list[tuple[IncidentOpened, float]]) -> None:
    """Where each idle incident's time went, from the timestamps of the notifier's events."""
    per = stages(db_url, {c.incident_id for c, _ in measured})
    found: dict[str, list[float]] = defaultdict(list)
    for c, arrived in measured:
        s = per.get(c.incident_id, {})
        if "Scheduled" in s and "AttemptStarted" in s:
            found["opened → scheduled (handled, saved)"].append(
                s["Scheduled"] - c.opened_at.timestamp())
            found["scheduled → attempt started"].append(s["AttemptStarted"] - s["Scheduled"])
            found["attempt started → arrived"].append(arrived - s["AttemptStarted"])
    for leg, values in found.items():
        print(f"  {leg:<38} p50 {ms(values, 50)} ms  p99 {ms(values, 99)} ms")


def burst(nats_url: str, db_url: str, receivers: Receivers, pid: int) -> None:
    contracts = [contract(n, n % PEOPLE) for n in range(BURST)]
    cpu = cpu_seconds(pid)
    asyncio.run(publish(nats_url, contracts))
    refs = {c.ref for c in contracts}
    # Only the count is polled (reading messages costs CPU the notifier shares); every
    # incident pages one person, so as many messages as incidents is all of them.
    wait_until(lambda: len(receivers.arrivals) >= len(refs), 600,
               f"{len(refs)} messages accepted", interval=0.2)
    used = cpu_seconds(pid) - cpu
    time.sleep(0.5)  # the last outcomes recorded
    start = min(c.opened_at.timestamp() for c in contracts)
    got = first_accepted(receivers)
    accepted = sorted(at for ref, (_, _, at) in got.items() if ref in refs)
    arrived = sorted(at for ref, (_, at, _) in got.items() if ref in refs)
    by_medium = Counter(m for ref, (m, _, _) in got.items() if ref in refs)
    sent = Counter(a.ref() for a in receivers.arrivals)
    print(f"== burst: {len(contracts)} incidents opened at once, one person paged each "
          f"({', '.join(f'{by_medium[m]} {m}' for m in MEDIA)}) ==")
    print(f"handed to the channels' services: {len(arrived)} in {arrived[-1] - start:.2f} s → "
          f"{len(arrived) / (arrived[-1] - start):.0f}/s")
    print(f"accepted by them:                 {len(accepted)} in {accepted[-1] - start:.2f} s → "
          f"{len(accepted) / (accepted[-1] - start):.0f}/s; "
          f"sent twice {sum(1 for r in refs if sent[r] > 1)}")
    for medium in MEDIA:
        times = sorted(at for ref, (m, _, at) in got.items() if ref in refs and m == medium)
        if times:
            print(f"  {medium:<6} {len(times):4} accepted by +{times[-1] - start:.2f} s → "
                  f"{len(times) / (times[-1] - start):.0f}/s; opened → accepted p50 "
                  f"{(times[len(times) // 2] - start):.2f} s")
    print(f"notifier CPU: {used / len(contracts) * 1000:.2f} ms per message")
    per = stages(db_url, {c.incident_id for c in contracts})
    by_id = {c.incident_id: c.opened_at.timestamp() for c in contracts}
    scheduled = [s["Scheduled"] - by_id[i] for i, s in per.items() if "Scheduled" in s]
    claimed = [s["AttemptStarted"] - s["Scheduled"] for s in per.values()
               if "AttemptStarted" in s and "Scheduled" in s]
    print(f"  opened → scheduled p50 {ms(scheduled, 50)} ms p99 {ms(scheduled, 99)} ms; "
          f"scheduled → claimed p50 {ms(claimed, 50)} ms p99 {ms(claimed, 99)} ms")


def memory(pid: int) -> str:
    status = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return (f"RSS {int(status['VmRSS'].split()[0]) / 1024:.0f} MiB, "
            f"peak {int(status['VmHWM'].split()[0]) / 1024:.0f} MiB")


def main() -> None:
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min average, 2 cores shared)")
    logs = Path(tempfile.mkdtemp(prefix="closedloop-bench-channels-"))
    with servers() as (nats_url, db_url):
        receivers = Receivers(logs, DELAY)
        process, url = start_notifier(db_url, nats_url, receivers, logs)
        try:
            configure(url, receivers)
            print(f"notifier memory after configuration: {memory(process.pid)}")
            settle(process.pid)
            profiler = profile(process.pid, logs, "channels idle")
            idle(nats_url, db_url, receivers, SAMPLES)
            if profiler is not None:
                profiler.send_signal(2)
                profiler.wait(30)
            settle(process.pid)
            profiler = profile(process.pid, logs, "channels burst")
            burst(nats_url, db_url, receivers, process.pid)
            if profiler is not None:
                profiler.send_signal(2)
                profiler.wait(30)
            print(f"notifier memory: {memory(process.pid)}")
        finally:
            process.terminate()
            process.wait(20)
            receivers.close()
    print(f"load after: {os.getloadavg()[0]:.2f}; notifier log: {logs / 'notifier.log'}")


if __name__ == "__main__":
    main()
