"""One fault scenario: a fresh cluster under steady load, one fault injected partway and
healed, then the wait until everything accepted is processed and the checks of checks.py."""
from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from tests.faults.checks import verify, wait_caught_up
from tests.faults.cluster import Cluster
from tests.faults.load import Traffic
from tests.faults.receiver import Receiver
from tests.harness import wait_until

SECRET = "fault-suite-webhook-secret"
ESCALATE_AFTER_SECONDS = 2.0


@dataclass(frozen=True)
class Fault:
    """`target` is "postgres", "nats" or a service; `kill` sends SIGKILL, else a clean stop;
    it stays down `down_seconds` before it is started again on the same data and port."""

    name: str
    target: str
    kill: bool
    down_seconds: float


@dataclass(frozen=True)
class Load:
    alerts: int = 1000
    rate: float = 200.0  # alerts per second
    fault_after: float = 0.3  # share of the alerts accepted before the fault
    catch_up_timeout: float = 150.0


@dataclass
class Result:
    scenario: str
    alerts: int
    retried_requests: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    resolved: int = 0
    catch_up_after_restart_s: float | None = None
    catch_up_after_load_s: float | None = None
    deliveries_received: int = 0
    receiver_duplicates: int = 0
    receiver_incomplete: int = 0  # requests cut off by a killed sender
    passed: bool = False
    problems: list[str] = field(default_factory=list)
    progress: list[dict] = field(default_factory=list)  # from the load's end, every few s

    def as_dict(self) -> dict:
        return asdict(self)


def configure(cluster: Cluster, receiver: Receiver) -> None:
    """A webhook channel, a P1 policy that notifies it and escalates after two seconds."""
    with httpx.Client(base_url=cluster.urls["notifier"], timeout=10,
                      headers={"X-API-Key": cluster.api_key}) as notifier:
        channels = [notifier.post("/v1/channels", json={
            "name": f"faults {path}", "kind": "webhook", "url": receiver.url(f"/{path}"),
            "secret": SECRET}) for path in ("notify", "escalate")]
        for response in channels:
            response.raise_for_status()
        notify, escalate = (r.json()["id"] for r in channels)
        notifier.post("/v1/policies", json={
            "name": "faults P1", "severities": ["P1"], "notify": [notify],
            "escalate_after_seconds": ESCALATE_AFTER_SECONDS,
            "escalate_to": [escalate]}).raise_for_status()


def run(fault: Fault, load: Load, logs: Path, result: Result) -> None:
    """Fills `result` as it goes (so a failure still reports what was measured); raises
    AssertionError naming every broken promise."""
    if logs.exists():
        shutil.rmtree(logs)
    home = Path(tempfile.mkdtemp(prefix=f"closedloop-faults-{fault.name}-"))
    cluster, traffic, receiver = Cluster(home, logs), None, None
    try:
        cluster.start()
        traffic = Traffic(cluster.urls, cluster.api_key, alerts=load.alerts, rate=load.rate)
        receiver = Receiver(SECRET, on_receive=traffic.on_receive)
        configure(cluster, receiver)
        traffic.start()
        wait_until(lambda: traffic.stats.accepted >= load.alerts * load.fault_after, 60,
                   "the load to reach the fault point")
        (cluster.kill if fault.kill else cluster.stop_one)(fault.target)
        time.sleep(fault.down_seconds)  # the outage itself, not a wait for a condition
        cluster.start_one(fault.target)
        restarted = time.monotonic()
        wait_until(lambda: traffic.wait_load(0.5), load.catch_up_timeout,
                   "the load to be accepted")
        stats = traffic.stats
        result.retried_requests, result.refusals = stats.retries, dict(stats.refusals)
        with httpx.Client(timeout=10, headers={"X-API-Key": cluster.api_key}) as http:
            try:
                caught_up = wait_caught_up(http, cluster.urls, receiver, traffic,
                                           load.catch_up_timeout, result.progress)
                result.catch_up_after_restart_s = round(caught_up - restarted, 1)
                result.catch_up_after_load_s = round(caught_up - stats.last_accepted_at, 1)
            except AssertionError as late:
                result.problems.append(str(late))
            result.problems += verify(http, cluster.urls, receiver, traffic, cluster.nats.url)
        result.resolved = len(traffic.resolved)
        first, _ = receiver.snapshot()
        result.deliveries_received, result.receiver_duplicates = len(first), receiver.duplicates
        result.receiver_incomplete = receiver.incomplete
        result.passed = not result.problems
        assert result.passed, f"{fault.name}: " + "; ".join(result.problems)
    finally:
        if receiver is not None:
            receiver.close()
        if traffic is not None:
            traffic.stop()
        cluster.stop()
        nats_log = home / "nats" / "nats-server.log"
        if nats_log.exists():
            shutil.copy(nats_log, logs / "nats-server.log")
        shutil.rmtree(home, ignore_errors=True)

