"""The newest part of an application's notification log, read once for every follower in the
process. A service runs one relay and a projection runner per read model, each following the
same log: woken by every save, each used to ask the database for the head and for its own
topics, so one save cost a round trip or two per follower (eight in the notifier) and a
decode per follower of the same event. The tail reads what is new once, decodes each event
once, and hands every follower what it asks for from memory; a follower behind the tail (a
rebuild, a runner that just started) reads the log itself until it is within it."""
from __future__ import annotations

import asyncio
from bisect import bisect_right
from typing import Any

from shared.store import ServiceApplication

READ = 500  # notifications read per refresh, at most
KEEP = 2_000  # notifications kept (a few MiB): a follower further behind reads the log itself


class LogTail:
    def __init__(self, app: ServiceApplication, poll_seconds: float) -> None:
        self.app, self.poll_seconds = app, poll_seconds
        self.base: int | None = None  # the tail holds every notification after this id …
        self.head: int | None = None  # … up to and including this one
        self._entries: list[list[Any]] = []  # [notification, decoded event or None]
        self._ids: list[int] = []  # the entries' ids, to find a follower's place
        self._full = False  # the last read stopped at READ: more is waiting
        self._saves = 0  # local saves seen (a save after a refresh began makes it stale)
        self._read_at_saves = -1
        self._read_at = float("-inf")  # event-loop time the last refresh began
        self._reading: asyncio.Future | None = None
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._listener = lambda: loop.call_soon_threadsafe(self._saved)
        app.add_save_listener(self._listener)

    @classmethod
    def of(cls, app: ServiceApplication, poll_seconds: float) -> "LogTail":
        """The tail of `app`'s log for the running event loop (one per loop and application)."""
        loop = asyncio.get_running_loop()
        tails = app.__dict__.setdefault("_log_tails", {})
        tail = tails.get(loop)
        if tail is None or tail._loop.is_closed():
            tail = tails[loop] = cls(app, poll_seconds)
        tail.poll_seconds = min(tail.poll_seconds, poll_seconds)
        return tail

    def _saved(self) -> None:
        self._saves += 1

    def holds(self, position: int) -> bool:
        """Whether everything after `position` that is in the log up to the head is here."""
        return self.base is not None and position >= self.base

    async def refresh(self) -> None:
        """Read what was saved since the last read: at once when a local save happened since,
        else at most once per poll interval (saves by other replicas). Concurrent callers
        share one read."""
        while True:
            if self._reading is not None:
                await asyncio.shield(self._reading)
                continue
            now = self._loop.time()
            if (self.base is not None and self._read_at_saves == self._saves
                    and not self._full and now - self._read_at < self.poll_seconds / 2):
                return
            self._reading = self._loop.create_future()
            try:
                await self._read()
            finally:
                reading, self._reading = self._reading, None
                reading.set_result(None)
            return

    async def _read(self) -> None:
        self._read_at_saves, self._read_at = self._saves, self._loop.time()
        if self.base is None:  # the tail starts at the log's head: the past is read directly
            self.base = self.head = await asyncio.to_thread(
                self.app.recorder.max_notification_id) or 0
            return
        assert self.head is not None
        found = await asyncio.to_thread(self.app.recorder.select_notifications,
                                        self.head + 1, READ)
        self._full = len(found) == READ
        if found:
            self._entries.extend([n, None] for n in found)
            self._ids.extend(n.id for n in found)
            self.head = found[-1].id
            if len(self._entries) > KEEP:
                dropped = len(self._entries) - KEEP
                self.base = self._ids[dropped - 1]
                del self._entries[:dropped], self._ids[:dropped]

    def after(self, position: int, limit: int,
              topics: tuple[str, ...]) -> tuple[list[tuple[Any, Any]], int]:
        """Up to `limit` (notification, event) after `position` (of `topics`, when given),
        and the position a follower reaches with them; with none, the head (past events of
        other topics)."""
        batch: list[tuple[Any, Any]] = []
        wanted = set(topics)
        for entry in self._entries[bisect_right(self._ids, position):]:
            notification = entry[0]
            if wanted and notification.topic not in wanted:
                continue
            if entry[1] is None:
                entry[1] = self.app.decode(notification)
            batch.append((notification, entry[1]))
            if len(batch) == limit:
                return batch, notification.id
        if batch:  # as a read of the log by topic: the position stops at the last one found
            return batch, batch[-1][0].id
        assert self.head is not None
        return batch, max(position, self.head)
