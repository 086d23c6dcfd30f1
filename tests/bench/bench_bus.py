"""Relay publish rate (events/s) and consumer rate with tracking (messages/s) on this machine.

Run: .venv/bin/python -m tests.bench.bench_bus [events]"""
from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import datetime, timezone

import nats
from eventsourcing.domain import Aggregate, event

from shared.bus.consumer import DurableConsumer, Subscription
from shared.bus.relay import OutboxRelay
from shared.bus.streams import ensure_streams
from shared.contracts import AlertResolved
from shared.store import ServiceApplication, ensure_schema, eventsourcing_env
from tests.bench.infra import servers

NS = uuid.UUID("6f1c0a8e-7d0b-4b8c-9a55-2d8c4f5e9b10")


class Tick(Aggregate):
    @event("Ticked")
    def __init__(self, n: int, at: datetime) -> None:
        self.n = n


class Seen(Aggregate):
    @event("Seen")
    def __init__(self, key: str) -> None:
        self.key = key

    @staticmethod
    def create_id(key: str) -> uuid.UUID:
        return uuid.uuid5(NS, key)


def translate(e):
    if isinstance(e, Tick.Ticked):
        return AlertResolved(alert_id=str(e.originator_id), fingerprint=f"f{e.n}", entity="bench",
                             resolved_at=e.at)


async def main(total: int) -> None:
    with servers() as (nats_url, db_url):
        for schema in ("detector", "incidents"):
            ensure_schema(db_url, schema)
        producer = ServiceApplication(eventsourcing_env(db_url, "detector"))
        consumer_app = ServiceApplication(eventsourcing_env(db_url, "incidents"))
        now = datetime.now(timezone.utc)
        started = time.perf_counter()
        for start in range(0, total, 100):  # 100 aggregates per transaction
            producer.save(*[Tick(n=i, at=now) for i in range(start, min(start + 100, total))])
        saved = time.perf_counter() - started
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        await ensure_streams(js)

        relay = OutboxRelay(producer, js, "detector", translate, batch=1000)
        started = time.perf_counter()
        task = asyncio.create_task(relay.run())
        while (await js.stream_info("DETECTOR")).state.messages < total:
            await asyncio.sleep(0.01)
        published = time.perf_counter() - started
        task.cancel()

        done = asyncio.Event()
        handled = 0

        def handle(envelope, contract, tracking):
            nonlocal handled
            consumer_app.save_tracked(Seen(key=envelope.id), tracking=tracking)
            handled += 1
            if handled == total:
                done.set()

        consumer = DurableConsumer(consumer_app, js, "incidents",
                                   Subscription("DETECTOR", {AlertResolved: handle}), batch=200)
        started = time.perf_counter()
        task = asyncio.create_task(consumer.run())
        await asyncio.wait_for(done.wait(), 600)
        consumed = time.perf_counter() - started
        task.cancel()
        await nc.close()
        print(f"events: {total}")
        print(f"store writes (100 aggregates/transaction): {total / saved:,.0f} events/s")
        print(f"outbox relay publish (pipelined, acked):   {total / published:,.0f} events/s")
        print(f"durable consumer with tracking row/message: {total / consumed:,.0f} messages/s")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
