"""Alert storm (issue 8): Alertmanager webhook batches of 64 from 4 concurrent senders against
closedloop on `make up` defaults (one webhook channel, one policy for P0–P3), or the same load
against Prometheus Alertmanager; a local receiver checks signatures and times each page.
Prints per scenario: ingest alerts/s, notifications/s, alert → webhook p50/p95/p99, lost
(accepted, never paged), duplicated (an entity paged more than once), refused (no body carrying
it was accepted: Alertmanager retries only 5xx, so a 4xx leaves the alert until its next group
flush), HTTP errors seen by the senders, and peak memory per process. `open-<N>` brings N
distinct alerts in (each opens an incident and pages) and then prints the memory the system
holds with N open incidents (firing alerts, for Alertmanager), settled. Asserts nothing.

Run: .venv/bin/python -m tests.bench.bench_storm [burst-1k storm-10k steady-250 open-50k]
       [--against closedloop --against alertmanager] [--runs 3] [--profile DIR]
By default each run starts its own stack in a temporary directory (embedded NATS and
PostgreSQL unless NATS_URL / DATABASE_URL are set). A running stack instead: --stack
.closedloop/stack.json, or --detector URL --notifier URL --api-key KEY (or the environment's
CLOSEDLOOP_DETECTOR_URL, CLOSEDLOOP_NOTIFIER_URL, CLOSEDLOOP_API_KEY)."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from closedloop.stack import StackInfo
from tests.bench.storm import load, observe, report, systems
from tests.bench.storm.receiver import AlertmanagerReceiver, Pages, Receiver, SECRET, pages_per_entity

PROFILED = ("detector", "incidents", "notifier", "capa")
SETTLE = 3.0  # seconds to go on listening once every alert paged: a duplicate comes late
MARK_EVERY = 10_000  # pages between two notes of the whole stack's memory (open-<N>)


@dataclass(frozen=True)
class Scenario:
    name: str
    sends: int
    resend_share: float
    rate: float | None = None  # alert sends per second; None: as fast as the senders go
    hold: bool = False  # measure the memory held once every alert paged (open incidents)


def scenarios(duration: float, rate: float, open_alerts: int = 50_000) -> dict[str, Scenario]:
    return {s.name: s for s in (
        Scenario("burst-1k", 1_000, 0.0),
        Scenario("storm-10k", 10_000, 0.8),
        Scenario(f"steady-{rate:g}", round(rate * duration), 0.8, rate),
        Scenario(f"open-{thousands(open_alerts)}", open_alerts, 0.0, hold=True))}


def thousands(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.pages = Pages()
        self.receivers: dict[str, Receiver] = {}

    def receiver(self, system: str) -> Receiver:
        if system not in self.receivers:
            kind = AlertmanagerReceiver if system == "alertmanager" else Receiver
            self.receivers[system] = kind(SECRET, self.pages.on_receive)
        return self.receivers[system]

    def start(self, system: str) -> systems.System:
        url = self.receiver(system).url(f"/{system}")
        if system == "alertmanager":
            return systems.alertmanager_started(url)
        attached = attached_stack(self.args)
        started = (systems.closedloop_attached(attached) if attached
                   else systems.closedloop_started())
        try:
            systems.configure_closedloop(started, url)
        except Exception:
            started.stop()
            raise
        return started

    def run(self, system_name: str, scenario: Scenario) -> report.Row:
        system = self.start(system_name)
        run_id = f"{scenario.name}-{uuid.uuid4().hex[:6]}"
        batches = load.plan(scenario.sends, scenario.resend_share)
        try:
            with observe.PeakMemory(system.processes) as memory, self.profiles(system, run_id):
                log = asyncio.run(load.send(system.ingest_url, system.headers, batches,
                                            system.body(run_id), rate=scenario.rate))
                paged = self.wait_pages(run_id, len(log.taken), log.finished,
                                        memory if scenario.hold else None)
                if scenario.hold:
                    if self.args.quiet:  # what is held once idle pools and caches let go
                        memory.mark("all paged")
                        time.sleep(self.args.quiet)
                    memory.settle(self.args.hold)
            counts = pages_per_entity(self.receivers[system_name], f"{run_id}-")
        finally:
            system.stop()
        duplicated = sum(1 for n in counts.values() if n > 1)
        row = report.row(system_name, scenario.name, scenario.sends, log, paged, duplicated)
        row.memory = memory.line()
        if paged:
            cpu = memory.cpu()
            row.memory += (f" ({1000 * sum(cpu.values()) / len(paged):.1f} ms per page; "
                           + ", ".join(f"{n} {1000 * c / len(paged):.2f}" for n, c in cpu.items()
                                       if c) + ")")
        return row

    def wait_pages(self, run_id: str, accepted: int, sent: float,
                   memory: observe.PeakMemory | None = None) -> dict[int, float]:
        """Every accepted alert's first page, waiting up to --timeout after the last send;
        with `memory`, the whole stack's memory is noted every MARK_EVERY pages."""
        prefix = f"{run_id}-"
        deadline = sent + self.args.timeout
        marked = 0
        while (paged := len(self.pages.of(prefix))) < accepted and time.monotonic() < deadline:
            if memory and paged >= marked + MARK_EVERY:
                marked = paged // MARK_EVERY * MARK_EVERY
                memory.mark(f"{marked} paged")
            time.sleep(0.25 if memory else 0.05)
        time.sleep(SETTLE)
        return {int(entity.rsplit("-", 1)[1]): at for entity, at in self.pages.of(prefix).items()}

    def profiles(self, system: systems.System, run_id: str):
        if not self.args.profile or system.name != "closedloop":
            return contextlib.nullcontext()
        pids = {n: system.processes[n]()[0].pid for n in PROFILED if n in system.processes}
        return observe.Profiles(pids, Path(self.args.profile) / run_id)


def attached_stack(args: argparse.Namespace) -> StackInfo | None:
    if args.stack:
        info = StackInfo.load(Path(args.stack))
        if info is None:
            raise SystemExit(f"{args.stack}: not a stack.json of a running stack")
        return info
    if args.detector and args.notifier:
        if not args.api_key:
            raise SystemExit("an admin API key is needed: --api-key or CLOSEDLOOP_API_KEY")
        return StackInfo(urls={"detector": args.detector, "notifier": args.notifier},
                         api_key=args.api_key, nats_url="", database_url="")
    return None


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_storm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", metavar="scenario",
                        help="burst-1k, storm-10k, steady-<rate>, open-<N> "
                             "(default: the first three)")
    parser.add_argument("--against", action="append", choices=["closedloop", "alertmanager"],
                        help="the system(s) to load, in order (default: closedloop)")
    parser.add_argument("--runs", type=int, default=1, help="runs of each scenario; >1 adds a median row")
    parser.add_argument("--duration", type=float, default=20.0, help="steady scenario, seconds")
    parser.add_argument("--rate", type=float, default=250.0, help="steady scenario, alerts/s")
    parser.add_argument("--open", type=int, default=50_000, metavar="N",
                        help="open-<N> scenario: distinct alerts, each an open incident")
    parser.add_argument("--hold", type=float, default=5.0,
                        help="open scenario: seconds of memory samples once all paged")
    parser.add_argument("--quiet", type=float, default=0.0,
                        help="open scenario: seconds without load before those samples")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds after the last send to wait for every page")
    parser.add_argument("--profile", metavar="DIR",
                        help="py-spy record detector, incidents and notifier into DIR/<run>/")
    parser.add_argument("--stack", help="a running stack's stack.json (e.g. .closedloop/stack.json)")
    parser.add_argument("--detector", default=os.environ.get("CLOSEDLOOP_DETECTOR_URL"))
    parser.add_argument("--notifier", default=os.environ.get("CLOSEDLOOP_NOTIFIER_URL"))
    parser.add_argument("--api-key", default=os.environ.get("CLOSEDLOOP_API_KEY"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    # Stopped by a signal, the bench still stops what it started (a background job may have
    # SIGINT ignored; SIGTERM would end it without running `finally`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    known = scenarios(args.duration, args.rate, args.open)
    chosen = args.scenarios or [s.name for s in known.values() if not s.hold]
    if unknown := [name for name in chosen if name not in known]:
        raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    bench = Bench(args)
    print(f"load: batches of {load.BATCH}, {load.SENDERS} senders; {uptime()}")
    rows = []
    for system in args.against or ["closedloop"]:
        for name in chosen:
            runs = []
            for number in range(args.runs):
                print(f"{system} {name} run {number + 1}/{args.runs} …", flush=True)
                runs.append(bench.run(system, known[name]))
                print(f"  {report.format_row(runs[-1])}\n  {runs[-1].memory}", flush=True)
                if runs[-1].later:
                    print(f"  {runs[-1].later}", flush=True)
            rows += runs + ([report.median(runs)] if len(runs) > 1 else [])
    print("\n" + report.HEADER)
    for row in rows:
        print(report.format_row(row))
    for row in rows:
        if row.memory:
            print(f"{row.system} {row.scenario}: {row.memory}")
    if args.profile:
        for run_dir in sorted(Path(args.profile).iterdir()):
            print(f"\n== py-spy {run_dir.name} ==")
            print(observe.summary({p.stem: p for p in sorted(run_dir.glob("*.txt"))}))
    for receiver in bench.receivers.values():
        receiver.close()


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    main()
