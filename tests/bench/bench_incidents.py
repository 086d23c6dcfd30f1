"""How fast the incidents service turns AlertRaised into IncidentOpened: the whole service
(consumer, relay, projection) in this process, fed over a real NATS stream, stored in real
PostgreSQL. Prints incidents/s, raised → opened p50/p95/p99 (published → IncidentOpened seen
on the bus) and the consumer's batch sizes.

Run: .venv/bin/python -m tests.bench.bench_incidents [BURST] [RATE] [SECONDS] [RESENT]
     (default: a burst of 2000 new P1 alerts, then 250 alerts/s for 10 s of which 80% re-sent; 0 skips one)
     CLOSEDLOOP_GROUP_BY=entity measures with grouping on (every alert its own group: the
     worst case, a GroupLink written per incident)."""
from __future__ import annotations

import asyncio
import collections
import random
import sys
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import nats

import shared.bus.consumer as consumer_module
from services.incidents.main import create_app
from services.incidents.settings import IncidentsSettings
from shared.contracts import AlertRaised, CloudEvent, IncidentOpened
from tests.bench.infra import percentile, servers
from tests.harness import API_KEYS, RunningService

SEVERITIES = ("P0", "P1", "P2", "P3")


class BatchLog:
    """Records every fetched batch's size and whether it committed in one transaction."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.at_once = 0
        self.one_by_one = 0

    def install(self) -> None:
        real_all, real_once = consumer_module.DurableConsumer.handle_all, \
            consumer_module.DurableConsumer._all_at_once
        log = self

        async def handle_all(consumer: Any, messages: list[Any]) -> None:
            if consumer.sub.stream == "DETECTOR":
                log.sizes.append(len(messages))
            await real_all(consumer, messages)

        def all_at_once(consumer: Any, deliveries: list[Any]) -> bool:
            done = real_once(consumer, deliveries)
            if consumer.sub.stream == "DETECTOR":
                if done:
                    log.at_once += 1
                else:
                    log.one_by_one += 1
            return done

        consumer_module.DurableConsumer.handle_all = handle_all  # type: ignore[method-assign]
        consumer_module.DurableConsumer._all_at_once = all_at_once  # type: ignore[method-assign]

    def reset(self) -> None:
        self.sizes.clear()
        self.at_once = self.one_by_one = 0

    def summary(self) -> str:
        if not self.sizes:
            return "no batches"
        common = collections.Counter(self.sizes).most_common(4)
        return (f"{len(self.sizes)} fetches, mean {sum(self.sizes) / len(self.sizes):.1f} msgs, "
                f"most common {common}; batches committed at once {self.at_once}, "
                f"redone one by one {self.one_by_one}")


def alert(run: str, i: int, severity: str) -> CloudEvent:
    contract = AlertRaised(
        alert_id=f"{run}-{i}", fingerprint=f"{run}-fp-{i}", source="rule", name="bench",
        # An entity per run: with CLOSEDLOOP_GROUP_BY=entity a run's alerts must not join
        # the incidents of an earlier run (the warm-up's).
        entity=f"store-{run}-{i}", severity=severity, value=99.0,
        started_at=datetime.now(timezone.utc))
    return CloudEvent(id=f"bench:{run}:{i}", source="closedloop/detector",
                      type=AlertRaised.type_name(), time=contract.started_at,
                      data=contract.model_dump(mode="json"))


class Opened:
    """IncidentOpened as the relay publishes it, matched to when its alert was published."""

    def __init__(self) -> None:
        self.published: dict[str, float] = {}
        self.latency: dict[str, float] = {}
        self.refs: list[str] = []

    async def listen(self, nc: Any) -> None:
        async def seen(msg: Any) -> None:
            now = time.perf_counter()
            data = CloudEvent.from_bytes(msg.data).data
            alert_id = data["alert_id"]
            if alert_id in self.published and alert_id not in self.latency:
                self.latency[alert_id] = now - self.published[alert_id]
                self.refs.append(data["ref"])

        await nc.subscribe(IncidentOpened.type_name(), cb=seen)

    async def until(self, count: int, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while len(self.latency) < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {len(self.latency)} of {count} incidents opened")
            await asyncio.sleep(0.005)


def report(title: str, opened: Opened, elapsed: float, batches: BatchLog, cpu: float) -> None:
    """`cpu`: this process's CPU seconds (service and load generator): steadier than
    wall-clock figures on a machine shared with other work."""
    values = list(opened.latency.values())
    print(f"{title}: {len(values)} incidents in {elapsed:.2f} s = {len(values) / elapsed:.0f} "
          f"incidents/s, {cpu / len(values) * 1000:.2f} ms CPU per incident")
    print(f"  raised → opened p50 {percentile(values, 50) * 1000:.0f} ms, "
          f"p95 {percentile(values, 95) * 1000:.0f} ms, p99 {percentile(values, 99) * 1000:.0f} ms")
    print(f"  batches: {batches.summary()}")


async def burst(nc: Any, count: int, severities: tuple[str, ...], batches: BatchLog) -> None:
    js, opened, run = nc.jetstream(), Opened(), uuid.uuid4().hex[:6]
    await opened.listen(nc)
    batches.reset()
    envelopes = [alert(run, i, severities[i % len(severities)]) for i in range(count)]
    started, cpu = time.perf_counter(), time.process_time()
    acks = []
    for e in envelopes:  # pipelined, as the relay publishes a backlog
        opened.published[e.data["alert_id"]] = time.perf_counter()
        acks.append(await js.publish_async(AlertRaised.type_name(), e.to_bytes(),
                                           headers={"Nats-Msg-Id": e.id}))
    await asyncio.gather(*acks)
    await opened.until(count, timeout=600)
    report(f"burst of {count} new alerts ({'/'.join(severities)})", opened,
           time.perf_counter() - started, batches, time.process_time() - cpu)
    check_refs(opened.refs)


async def steady(nc: Any, rate: float, seconds: float, batches: BatchLog,
                 resent: float = 0.8) -> None:
    """`rate` alerts a second, of which a share `resent` repeat an alert sent before (as
    Alertmanager re-sends its firing set): those open nothing and are not timed."""
    js, opened, run = nc.jetstream(), Opened(), uuid.uuid4().hex[:6]
    await opened.listen(nc)
    batches.reset()
    pick = random.Random(8)
    new = 0
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(int(rate * seconds)):
        due = started + i / rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        if new and pick.random() < resent:
            old = pick.randrange(new)
            e = alert(run, old, SEVERITIES[old % 4]).model_copy(update={"id": f"bench:{run}:r{i}"})
        else:
            e = alert(run, new, SEVERITIES[new % 4])
            new += 1
            opened.published[e.data["alert_id"]] = time.perf_counter()
        await js.publish(AlertRaised.type_name(), e.to_bytes(), headers={"Nats-Msg-Id": e.id})
    await opened.until(new, timeout=300)
    report(f"steady {rate:.0f} alerts/s ({resent:.0%} re-sent) for {seconds:.0f} s", opened,
           time.perf_counter() - started, batches, time.process_time() - cpu)


def check_refs(refs: list[str]) -> None:
    """Every ref issued once, and per severity and month without gaps from 1."""
    numbers: dict[str, list[int]] = collections.defaultdict(list)
    for ref in refs:
        scope, number = ref.rsplit("-", 1)
        numbers[scope].append(int(number))
    problems = [scope for scope, ns in numbers.items() if sorted(ns) != list(range(1, len(ns) + 1))]
    print(f"  refs: {len(refs)} issued, {len(set(refs))} distinct, "
          f"{'gap-free' if not problems else f'gaps or repeats in {problems}'}")


async def bench(nats_url: str, args: list[str]) -> None:
    nc = await nats.connect(nats_url)
    batches = BatchLog()
    batches.install()
    try:
        # Warm up (JIT-free Python, but pools, prepared statements, streams and consumers).
        await burst(nc, 50, ("P2",), batches)
        print("-- measured --")
        count = int(args[0]) if args else 2000
        rate = float(args[1]) if len(args) > 1 else 250.0
        seconds = float(args[2]) if len(args) > 2 else 10.0
        resent = float(args[3]) if len(args) > 3 else 0.8
        if count:
            await burst(nc, count, ("P1",), batches)
        if rate:
            await steady(nc, rate, seconds, batches, resent)
    finally:
        await nc.close()


def main(args: list[str]) -> None:
    with servers() as (nats_url, db_url):
        service = RunningService(create_app(IncidentsSettings(
            database_url=db_url, nats_url=nats_url, api_keys=API_KEYS))).start()
        try:
            asyncio.run(bench(nats_url, args))
        finally:
            service.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
