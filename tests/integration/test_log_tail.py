"""Every follower of a service's log near its head reads from one shared tail: a save is read
from the database once however many relays and read models follow the log, and each follower
still gets exactly its own events, in order (shared/bus/log_tail.py)."""
from __future__ import annotations

import asyncio

from eventsourcing.utils import get_topic

from shared.bus import log_tail
from shared.bus.follower import LogFollower
from tests.integration.toy import Counter, head


async def collect(follower: LogFollower, after: int, into: list[int],
                  caught_up: asyncio.Event) -> None:
    async for batch in follower.batches(after, on_caught_up=caught_up.set):
        into.extend(n.id for n, _ in batch)


async def until(predicate, timeout: float = 15.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(wait(), timeout)


def counting_reads(app, monkeypatch) -> list[int]:
    reads: list[int] = []
    select = app.recorder.select_notifications

    def counted(*args, **kwargs):
        reads.append(1)
        return select(*args, **kwargs)

    monkeypatch.setattr(app.recorder, "select_notifications", counted)
    return reads


async def test_eight_followers_read_each_save_once_and_each_gets_its_own_events(app, monkeypatch):
    app.increment("a", 1)  # the past: created and incremented before anyone follows
    start = head(app)
    created = [get_topic(Counter.Created)]
    followers = ([LogFollower(app, poll_seconds=5) for _ in range(4)]
                 + [LogFollower(app, poll_seconds=5, topics=created) for _ in range(4)])
    seen: list[list[int]] = [[] for _ in followers]
    ready = [asyncio.Event() for _ in followers]
    tasks = [asyncio.create_task(collect(f, start, s, r))
             for f, s, r in zip(followers, seen, ready)]
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 15)
        reads = counting_reads(app, monkeypatch)
        for name in ("b", "c", "d"):
            app.increment(name, 1)  # a creation and an increment each
            await until(lambda: all(f.position == head(app) for f in followers))
        everything = list(range(start + 1, head(app) + 1))
        for s in seen[:4]:
            assert s == everything
        creations = everything[::2]  # created, incremented, created, …
        for s in seen[4:]:
            assert s == creations
        # Woken by three saves, the eight followers read the log through one shared read per
        # save (a save that lands while another is read may take one more), not 8 or 16 each.
        assert len(reads) <= 6
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for f in followers:
            f.__exit__()


async def test_a_follower_behind_the_tail_reads_the_log_itself_then_joins_it(app, monkeypatch):
    monkeypatch.setattr(log_tail, "KEEP", 4)  # a short tail: older events are read directly
    for name in ("a", "b", "c"):
        app.increment(name, 1)
    at_head = LogFollower(app, poll_seconds=5)
    seen_head: list[int] = []
    head_ready = asyncio.Event()
    task = asyncio.create_task(collect(at_head, head(app), seen_head, head_ready))
    try:
        await asyncio.wait_for(head_ready.wait(), 15)
        for name in ("d", "e", "f"):
            app.increment(name, 1)
        behind = LogFollower(app, poll_seconds=5, batch=2)
        seen_all: list[int] = []
        done = asyncio.Event()
        rebuild = asyncio.create_task(collect(behind, 0, seen_all, done))
        await asyncio.wait_for(done.wait(), 15)
        rebuild.cancel()
        await asyncio.gather(rebuild, return_exceptions=True)
        behind.__exit__()
        assert seen_all == list(range(1, head(app) + 1))
        await until(lambda: at_head.position == head(app))
        assert seen_head == list(range(head(app) - 5, head(app) + 1))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        at_head.__exit__()
