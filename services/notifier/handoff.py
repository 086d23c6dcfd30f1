"""First attempts claimed where they are scheduled, and handed to this process's delivery
worker the moment that save commits: a new delivery goes out without waiting for the read
model and costs no transaction of its own. Only committed claims are handed over (a consumer
batch that is rolled back and redone one by one claims again), and only while the worker has
room, so no claim waits in memory long enough for its lease to run out; beyond that, and in
processes without a delivery worker, deliveries are claimed from the read model as before."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from uuid import UUID

from services.notifier.attempts import Claimed

log = logging.getLogger(__name__)

Intake = Callable[[list[Claimed]], None]  # thread-safe: called from the saving thread


class Handoff:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[UUID, Claimed] = {}  # claimed in saves not committed (yet)
        self._intake: Intake | None = None
        self._free: Callable[[], int] = lambda: 0

    def open(self, intake: Intake, free: Callable[[], int]) -> None:
        """This process's delivery worker takes claims (until close()); `free` tells how
        many more it can have in flight."""
        with self._lock:
            self._intake, self._free = intake, free

    def close(self) -> None:
        with self._lock:
            self._intake, self._free = None, lambda: 0
            self._pending.clear()

    def has_room(self) -> bool:
        with self._lock:
            return self._intake is not None and len(self._pending) < self._free()

    def claimed(self, job: Claimed, at: datetime) -> None:
        """A handler claimed this attempt; it is handed over once its save commits."""
        with self._lock:
            # A claim whose save never committed (a message refused, a worker gone) is
            # forgotten once its lease has passed: the read model's path owns it then.
            for stale in [i for i, j in self._pending.items() if j.lease_until <= at]:
                del self._pending[stale]
            self._pending[job.delivery_id] = job

    def committed(self, attempts: Iterable[tuple[UUID, int]]) -> None:
        """These attempts' claims were committed: hand over those claimed here."""
        with self._lock:
            jobs = [self._pending.pop(delivery_id) for delivery_id, attempt in attempts
                    if delivery_id in self._pending
                    and self._pending[delivery_id].notification.attempt == attempt]
            intake = self._intake
        if jobs and intake is not None:
            try:
                intake(jobs)
            except RuntimeError:  # the worker's loop has closed: the leases will run out
                log.warning("%d claimed attempt(s) not handed over: the worker has stopped",
                            len(jobs))
