"""Where the storm's pages land: the fault suite's signature-checking receiver for closedloop,
the same server reading Alertmanager's webhook bodies, and the receipt time of each page."""
from __future__ import annotations

import json
import threading
import time
from collections import Counter

from tests.faults.receiver import Received, Receiver

SECRET = "storm-bench-webhook-secret"


class Pages:
    """The first receipt (time.monotonic()) of a page per entity, fed by a receiver's hook."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.lock = threading.Lock()

    def on_receive(self, received: Received) -> None:
        now = time.monotonic()
        with self.lock:
            self.first.setdefault(received.entity, now)

    def of(self, prefix: str) -> dict[str, float]:
        with self.lock:
            return {e: t for e, t in self.first.items() if e.startswith(prefix)}


def pages_per_entity(receiver: Receiver, prefix: str) -> Counter[str]:
    """How many requests paged each entity: a delivery that came twice counts twice, and so
    does a second delivery (or a second incident) for the same entity."""
    first, arrivals = receiver.snapshot()
    counts: Counter[str] = Counter()
    for delivery, received in first.items():
        if received.entity.startswith(prefix):
            counts[received.entity] += arrivals[delivery]
    return counts


class AlertmanagerReceiver(Receiver):
    """Alertmanager signs nothing and sends a group's alerts in one body: each firing alert in
    it is one page, keyed by its entity (one alert per group here, so one delivery)."""

    def record(self, body: bytes, delivery_id: str, signature: str) -> None:
        for alert in json.loads(body)["alerts"]:
            if alert["status"] == "firing":
                entity = alert["labels"]["entity"]
                self.count(Received(entity, "firing", entity, "", entity))

