"""What a consumer's tracking row is keyed by (the publisher's message id) and when old rows
are forgotten (once no stream can deliver their message again)."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from datetime import datetime, timedelta

from shared.clock import Clock
from shared.contracts import CloudEvent
from shared.store import ServiceApplication, Tracking

log = logging.getLogger(__name__)
RELAY_ID = re.compile(r"^(?P<producer>[a-z][a-z0-9_-]*):(?P<notification>[0-9]+)$")
FOREIGN = "id"  # tracking name for messages whose id is not "<producer>:<notification id>"
PRUNE_EVERY = timedelta(hours=1)


def tracking_for(envelope: CloudEvent) -> Tracking:
    """The relay names each message "<producer>:<notification id>" (its Nats-Msg-Id and
    CloudEvent id): the same event keeps the same key however often, and in whatever stream
    incarnation, it is published. Other ids (external publishers) are keyed by a 63-bit hash."""
    match = RELAY_ID.match(envelope.id)
    if match:
        return Tracking(match["producer"], int(match["notification"]))
    digest = hashlib.blake2b(envelope.id.encode(), digest_size=8).digest()
    return Tracking(FOREIGN, int.from_bytes(digest, "big") >> 1)


class TrackingPruner:
    """Deletes a service's tracking rows older than the stream's max age, at most once an
    hour of the injectable clock (any replica may do it; the deletes are idempotent)."""

    def __init__(self, app: ServiceApplication, clock: Clock) -> None:
        self.app, self.clock = app, clock
        self.max_age_seconds: float | None = None
        self._next: datetime | None = None

    async def start(self, max_age_seconds: float | None) -> None:
        await asyncio.to_thread(self.app.date_tracking_rows)
        self.max_age_seconds = max_age_seconds or None  # 0: the stream keeps messages forever

    async def maybe_prune(self) -> int:
        now = self.clock.now()
        if self.max_age_seconds is None or (self._next is not None and now < self._next):
            return 0
        self._next = now + PRUNE_EVERY
        try:
            pruned = await asyncio.to_thread(self.app.prune_tracking, self.max_age_seconds)
        except Exception:  # the next hour tries again; consuming goes on meanwhile
            log.exception("pruning tracking rows failed")
            return 0
        if pruned:
            log.info("pruned %d tracking rows older than %.0f days", pruned,
                     self.max_age_seconds / 86400)
        return pruned
