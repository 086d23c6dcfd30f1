"""Steady alert load over HTTP for the fault suite: distinct Alertmanager alerts POSTed to the
detector at a fixed rate, each request retried until accepted (a service that is down refuses;
it must not lose what it accepted), and a share of the incidents resolved once escalated so
CAPA has work too. Bounded in count and time; runs its own event loop in a thread."""
from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

import httpx

from tests.faults.receiver import Received

# Worth trying again: the service is down, restarting, or its database/bus is.
RETRYABLE = {408, 425, 429, 500, 502, 503, 504}
RETRY_PAUSE = (0.1, 1.0)  # first and longest pause between tries of one request


@dataclass
class Stats:
    """What the load did; `refusals` counts failed tries by cause."""

    planned: int = 0
    accepted: int = 0
    retries: int = 0
    refusals: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # 4xx or given up: the suite fails on these
    resolves_accepted: int = 0
    resolve_retries: int = 0
    last_accepted_at: float = 0.0  # monotonic


def fingerprint(index: int) -> str:
    return f"fault-{index:06d}"


def index_of(entity: str) -> int:
    return int(entity.rsplit("-", 1)[-1])


def alert(index: int, now: datetime) -> dict:
    entity = f"fault-entity-{index:06d}"
    return {"status": "firing", "fingerprint": fingerprint(index), "startsAt": now.isoformat(),
            "labels": {"alertname": "FaultLoad", "entity": entity, "severity": "high"},
            "annotations": {"summary": f"fault-suite alert {index}"}}


class Traffic:
    """`alerts` distinct alerts at `rate` per second in requests of `batch`; every incident
    whose index is a multiple of `resolve_every` is resolved once its escalation arrived."""

    def __init__(self, urls: dict[str, str], api_key: str, *, alerts: int, rate: float,
                 batch: int = 10, resolve_every: int = 10, give_up_after: float = 120.0,
                 in_flight: int = 32) -> None:
        self.urls, self.headers = urls, {"X-API-Key": api_key}
        self.alerts, self.rate, self.batch = alerts, rate, batch
        self.resolve_every, self.give_up_after = resolve_every, give_up_after
        self.in_flight = in_flight
        self.stats = Stats(planned=alerts)
        self.resolved: set[str] = set()  # incident ids whose resolve was accepted
        self.load_done = threading.Event()
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Received] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-load", daemon=True)

    @property
    def to_resolve(self) -> set[str]:
        return {fingerprint(i) for i in range(0, self.alerts, self.resolve_every)}

    def start(self) -> "Traffic":
        self._thread.start()
        self._started.wait(10)
        return self

    def on_receive(self, received: Received) -> None:
        """The receiver's hook (its own thread): queue escalated incidents to resolve."""
        if (received.reason.startswith("escalation")
                and index_of(received.entity) % self.resolve_every == 0 and self._loop):
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, received)
            except RuntimeError:  # the load has stopped: nothing is resolved any more
                pass

    def wait_load(self, timeout: float) -> bool:
        return self.load_done.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    # -- the event loop's side ----------------------------------------------------------------
    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop, self._queue = asyncio.get_running_loop(), asyncio.Queue()
        self._started.set()
        limits = httpx.Limits(max_connections=self.in_flight + 8)
        async with httpx.AsyncClient(headers=self.headers, timeout=10, limits=limits) as http:
            resolver = asyncio.create_task(self._resolve_escalated(http))
            await self._send_alerts(http)
            self.load_done.set()
            while not self._stop.is_set():
                await asyncio.sleep(0.1)
            resolver.cancel()
            await asyncio.gather(resolver, return_exceptions=True)

    async def _send_alerts(self, http: httpx.AsyncClient) -> None:
        slots = asyncio.Semaphore(self.in_flight)
        interval = self.batch / self.rate
        started, tasks = time.monotonic(), []
        for n, first in enumerate(range(0, self.alerts, self.batch)):
            if self._stop.is_set():
                break
            await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))
            await slots.acquire()  # a long outage holds the rate back, not the memory
            indexes = range(first, min(first + self.batch, self.alerts))
            tasks.append(asyncio.create_task(self._send_batch(http, indexes, slots)))
        await asyncio.gather(*tasks)

    async def _send_batch(self, http: httpx.AsyncClient, indexes: range,
                          slots: asyncio.Semaphore) -> None:
        try:
            now = datetime.now(timezone.utc)
            body = {"version": "4", "status": "firing", "alerts": [alert(i, now) for i in indexes]}
            url = f"{self.urls['detector']}/v1/ingest/alertmanager"
            if await self._until_accepted(http, "POST", url, body):
                self.stats.accepted += len(indexes)
                self.stats.last_accepted_at = time.monotonic()
        finally:
            slots.release()

    async def _resolve_escalated(self, http: httpx.AsyncClient) -> None:
        while True:
            received = await self._queue.get()
            if received.incident_id in self.resolved:
                continue
            url = f"{self.urls['incidents']}/v1/incidents/{received.ref}"
            body = {"by": "fault suite", "summary": "resolved by the fault suite's load"}

            async def resolved_already() -> bool:
                response = await http.get(url)
                return response.status_code == 200 and response.json()["resolved_at"] is not None

            if await self._until_accepted(http, "POST", f"{url}/resolve", body,
                                          done_if_conflict=resolved_already):
                self.resolved.add(received.incident_id)
                self.stats.resolves_accepted += 1

    async def _until_accepted(self, http: httpx.AsyncClient, method: str, url: str, body: dict,
                              *, done_if_conflict: Callable[[], Awaitable[bool]] | None = None,
                              ) -> bool:
        """Try until a 2xx. A command that is not idempotent passes `done_if_conflict`: its
        409 is either a concurrent change (try again) or an earlier try that went through
        while its answer was lost (done)."""
        deadline, pause = time.monotonic() + self.give_up_after, RETRY_PAUSE[0]
        while True:
            try:
                response = await http.request(method, url, json=body)
                if response.status_code < 300:
                    return True
                cause = f"HTTP {response.status_code}"
                if response.status_code == 409 and done_if_conflict is not None:
                    if await done_if_conflict():
                        return True
                elif response.status_code not in RETRYABLE:
                    self.stats.errors.append(f"{method} {url} → {cause}: {response.text[:300]}")
                    return False
            except httpx.TransportError as error:
                cause = type(error).__name__
            self.stats.refusals[cause] += 1
            if done_if_conflict is None:
                self.stats.retries += 1
            else:
                self.stats.resolve_retries += 1
            if time.monotonic() > deadline or self._stop.is_set():
                self.stats.errors.append(f"{method} {url}: gave up after {self.give_up_after:.0f}s "
                                         f"(last: {cause})")
                return False
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_PAUSE[1])
