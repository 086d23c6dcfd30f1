"""The storm's load: which alerts go in which Alertmanager-sized batch (a pure plan), and the
senders that POST those batches, four at a time, recording when each alert was first sent."""
from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

BATCH = 64
SENDERS = 4
SEVERITIES = ("critical", "high", "warning")
# Alertmanager itself retries a receiver's 5xx and drops a 4xx: the senders do the same.
RETRIES = 3


def plan(sends: int, resend_share: float = 0.0, batch: int = BATCH,
         seed: int = 8) -> list[list[int]]:
    """`sends` alert sends in batches of `batch`: alert indexes, each alert sent first before
    any re-send of it, no alert twice in one batch. The first batch is all new (nothing has
    been sent yet to send again); the re-sends, of alerts from earlier batches, are spread
    evenly over the later batches and new alerts fill the remainder."""
    sizes = [min(batch, sends - start) for start in range(0, sends, batch)]
    resends = round(sends * resend_share)
    if sizes and sends - resends < sizes[0]:
        raise ValueError(f"{sends - resends} distinct alerts cannot fill the first batch")
    rng = random.Random(seed)
    batches: list[list[int]] = []
    introduced = due_before = later = 0
    for number, size in enumerate(sizes):
        later += size if number else 0  # sends after the first batch, this one included
        due = round(resends * later / (sends - sizes[0])) if later else 0
        again = due - due_before
        batches.append(list(range(introduced, introduced + size - again))
                       + rng.sample(range(introduced), again))
        introduced += size - again
        due_before = due
    return batches


@dataclass
class SendLog:
    """What the senders saw. Times are time.monotonic()."""

    first_sent: dict[int, float] = field(default_factory=dict)  # alert → its first body's send
    accepted: int = 0  # alert sends in 2xx answers
    taken: set[int] = field(default_factory=set)  # alerts in at least one 2xx answer
    statuses: Counter = field(default_factory=Counter)  # non-2xx answers and transport errors
    started: float = 0.0
    finished: float = 0.0


Body = Callable[[list[int]], object]


async def send(url: str, headers: dict[str, str], batches: list[list[int]], body: Body,
               *, senders: int = SENDERS, rate: float | None = None) -> SendLog:
    """POST every batch. Without `rate`, `senders` loops send back to back (a burst); with it,
    batch n is due at n × batch / rate seconds and waits for a free sender when all are busy."""
    log = SendLog()
    queue: asyncio.Queue[tuple[int, list[int]]] = asyncio.Queue()
    for item in enumerate(batches):
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as http:
        log.started = time.monotonic()

        async def sender() -> None:
            while not queue.empty():
                number, alerts = queue.get_nowait()
                if rate:
                    due = log.started + sum(map(len, batches[:number])) / rate
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                await post(http, url, alerts, body, log)

        await asyncio.gather(*(sender() for _ in range(senders)))
    log.finished = time.monotonic()
    return log


async def post(http: httpx.AsyncClient, url: str, alerts: list[int], body: Body,
               log: SendLog) -> None:
    payload = body(alerts)
    for attempt in range(1 + RETRIES):
        now = time.monotonic()
        for alert in alerts:
            log.first_sent.setdefault(alert, now)
        try:
            response = await http.post(url, json=payload)
        except httpx.TransportError as error:
            log.statuses[type(error).__name__] += 1
        else:
            if response.status_code < 300:
                log.accepted += len(alerts)
                log.taken.update(alerts)
                return
            log.statuses[response.status_code] += 1
            if response.status_code < 500:
                return
        await asyncio.sleep(0.1 * 2 ** attempt)


def labels(run: str, alert: int) -> dict[str, str]:
    """Each alert its own store (entity), severities spread over three levels."""
    return {"alertname": "StoreDown", "entity": f"{run}-{alert:06d}",
            "severity": SEVERITIES[alert % len(SEVERITIES)]}


def alertmanager_webhook(run: str) -> Body:
    """Bodies as Alertmanager's webhook (v4) sends them to closedloop's detector."""
    def body(alerts: list[int]) -> dict:
        now = datetime.now(timezone.utc).isoformat()
        return {"version": "4", "status": "firing", "receiver": "closedloop",
                "groupKey": f"{{}}:{{run=\"{run}\"}}", "groupLabels": {}, "commonLabels": {},
                "commonAnnotations": {}, "externalURL": "http://alertmanager.bench",
                "alerts": [{"status": "firing", "labels": labels(run, a),
                            "annotations": {"summary": f"store {a} is down"},
                            "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
                            "generatorURL": "http://prometheus.bench/graph"} for a in alerts]}
    return body


def alertmanager_api(run: str) -> Body:
    """The same alerts as Prometheus POSTs them to Alertmanager's API v2."""
    def body(alerts: list[int]) -> list:
        now = datetime.now(timezone.utc).isoformat()
        return [{"labels": labels(run, a), "annotations": {"summary": f"store {a} is down"},
                 "startsAt": now, "generatorURL": "http://prometheus.bench/graph"}
                for a in alerts]
    return body
