"""How fast the incidents service takes an alert storm with storm control on: a burst of new
alerts (default 2,000) over real NATS into real PostgreSQL, with CLOSEDLOOP_STORM_CONTROL
at 100/60s. Prints alerts/s until the detector consumer has nothing pending, CPU per alert,
how many incidents opened (the 100 before the storm and the storm) and the storm's count.

Run: .venv/bin/python -m tests.bench.bench_storm_control [BURST] [STORM]"""
from __future__ import annotations

import asyncio
import sys
import time
import uuid
from typing import Any

import nats

from services.incidents.main import create_app
from services.incidents.settings import IncidentsSettings
from shared.contracts import AlertRaised, IncidentOpened
from tests.bench.bench_incidents import BatchLog, alert
from tests.bench.infra import servers
from tests.harness import API_KEYS, VIEWER_KEY, RunningService


async def drained(js: Any) -> bool:
    info = await js.consumer_info("DETECTOR", "incidents-detector")
    return info.num_pending == 0 and info.num_ack_pending == 0


async def burst(nats_url: str, count: int, batches: BatchLog) -> list[str]:
    nc = await nats.connect(nats_url)
    opened: list[str] = []

    async def seen(msg: Any) -> None:
        opened.append(msg.subject)

    await nc.subscribe(IncidentOpened.type_name(), cb=seen)
    js, run = nc.jetstream(), uuid.uuid4().hex[:6]
    envelopes = [alert(run, i, "P1") for i in range(count)]
    started, cpu = time.perf_counter(), time.process_time()
    acks = [await js.publish_async(AlertRaised.type_name(), e.to_bytes(),
                                   headers={"Nats-Msg-Id": e.id}) for e in envelopes]
    await asyncio.gather(*acks)
    while not await drained(js):
        await asyncio.sleep(0.01)
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    await asyncio.sleep(1)  # the relay publishes the openings after the commit
    print(f"burst of {count} new alerts: handled in {elapsed:.2f} s = {count / elapsed:.0f} "
          f"alerts/s, {used / count * 1000:.2f} ms CPU per alert; {len(opened)} incidents "
          "opened")
    print(f"  batches: {batches.summary()}")
    await nc.close()
    return opened


def main(args: list[str]) -> None:
    count = int(args[0]) if args else 2000
    storm = args[1] if len(args) > 1 else "100/60s"
    with servers() as (nats_url, db_url):
        service = RunningService(create_app(IncidentsSettings(
            database_url=db_url, nats_url=nats_url, api_keys=API_KEYS,
            storm_control=storm))).start()
        try:
            batches = BatchLog()
            batches.install()
            asyncio.run(burst(nats_url, count, batches))
            with service.client(VIEWER_KEY) as api:
                items = api.get("/v1/incidents", params={"limit": 200}).json()["items"]
                storms = [i for i in items if i["title"].startswith("Alert storm")]
                if storms:
                    counts = api.get(f"/v1/incidents/{storms[0]['ref']}").json()["storm"]
                    print(f"  storm {storms[0]['ref']}: {counts['alerts']} alerts gathered on "
                          f"{counts['entities']} entities")
        finally:
            service.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
