"""Follow an application's notification log from a position, waking on local saves and
polling for saves made by other replicas; near the head, from the process's shared tail of
the log (log_tail.py)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from shared.bus.log_tail import LogTail
from shared.store import ServiceApplication

Batch = list[tuple[Any, Any]]  # (notification, domain event)


class LogFollower:
    """Yields batches of (notification, domain event) after a given position.

    The caller stores its own position once a batch is fully handled, so a crash replays
    the batch instead of skipping it."""

    def __init__(self, app: ServiceApplication, *, poll_seconds: float = 0.05,
                 batch: int = 500, topics: Sequence[str] = ()) -> None:
        """`topics`: only events of these topics (all when empty). A reader that handles a
        few kinds of event then neither reads nor decodes the others."""
        self.app, self.poll_seconds, self.batch = app, poll_seconds, batch
        self.topics = tuple(topics)
        self.position = 0  # the log read so far (with topics: skipped events included)
        self._wake = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._listener = lambda: loop.call_soon_threadsafe(self._wake.set)
        app.add_save_listener(self._listener)

    def __enter__(self) -> "LogFollower":
        return self

    def __exit__(self, *_: Any) -> None:
        self.app.remove_save_listener(self._listener)

    async def batches(self, after: int, *, until_caught_up: bool = False,
                      on_caught_up: Callable[[], None] | None = None) -> AsyncIterator[Batch]:
        position = self.position = after
        tail = LogTail.of(self.app, self.poll_seconds)
        while True:
            self._wake.clear()
            await tail.refresh()
            if tail.holds(position):
                batch, reached = tail.after(position, self.batch, self.topics)
            else:  # behind the tail: read the log itself until within it
                batch, reached = await self._read(position)
            if batch or reached > position:
                position = self.position = reached
                yield batch  # empty with topics: only the position moves past other events
                continue
            if on_caught_up is not None:
                on_caught_up()
            if until_caught_up:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass

    async def _read(self, position: int) -> tuple[Batch, int]:
        head = None
        if self.topics:
            # Read up to the head as it is now: ids are issued in commit order (the events
            # table is locked per save), so everything up to it is visible and the position
            # can move past events of other topics.
            head = await asyncio.to_thread(self.app.recorder.max_notification_id) or 0
            if head <= position:
                return [], position
        notifications = await asyncio.to_thread(
            self.app.recorder.select_notifications, position + 1, self.batch, stop=head,
            topics=self.topics)
        if not notifications:
            return [], max(position, head or 0)
        return [(n, self.app.decode(n)) for n in notifications], notifications[-1].id
