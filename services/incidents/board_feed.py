"""The board's live feed: a LISTEN (on the process's one lease connection) hears the read
model's row changes (the NOTIFY triggers of board_views.py) and hands each to every open event
stream. The notifications come at commit, so a screen that refetches a card sees the change."""
from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from services.incidents.board_views import channel

log = logging.getLogger(__name__)
QUEUE = 1000  # changes a slow screen may fall behind by before it is told to reload


class Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE)
        self.overflowed = False  # fell behind: its screen must reload the board


class BoardFeed:
    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self.listening = asyncio.Event()

    def subscribe(self) -> Subscriber:
        subscriber = Subscriber()
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, change: dict[str, Any]) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait(change)
            except asyncio.QueueFull:
                subscriber.overflowed = True
                self._subscribers.discard(subscriber)

    def heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self.publish(json.loads(payload))
        except ValueError:
            log.warning("board feed: a notification that is not JSON: %r", payload[:200])


def feed_of(runtime: Any) -> BoardFeed:
    return runtime.components.setdefault("board_feed", BoardFeed())


async def listen_board(runtime: Any) -> None:
    """A worker: LISTEN until the process stops; the runtime restarts it if the database
    drops the connection (streams open meanwhile stay open and resume with it)."""
    feed = feed_of(runtime)
    try:
        await runtime.leases.listen(channel(runtime.settings.schema_name), feed.heard,
                                    listening=feed.listening.set)
    finally:
        feed.listening.clear()
