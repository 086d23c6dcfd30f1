"""A process holds all its leases on one connection (shared/exclusive.py): one replica at a time
runs each follower, a lease ends with its work, and a lost connection hands every lease on it
to the standby replica."""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.exclusive import LeaseLost, Leases
from shared.service import asyncpg_dsn


async def until(predicate, timeout: float = 15.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(wait(), timeout)


def forever(running: set[str], name: str):
    async def work() -> None:
        running.add(name)
        try:
            await asyncio.Event().wait()
        finally:
            running.discard(name)
    return work


async def lease_backends(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'closedloop-leases' "
            "AND datname = current_database()")]
    finally:
        await conn.close()


@pytest.fixture
async def replicas(database_url):
    dsn = asyncpg_dsn(database_url)
    first, second = Leases(dsn, retry_seconds=0.2), Leases(dsn, retry_seconds=0.2)
    yield dsn, first, second
    await first.close()
    await second.close()


async def test_many_leases_share_one_connection_and_one_replica_runs_each(replicas):
    dsn, first, second = replicas
    on_first: set[str] = set()
    on_second: set[str] = set()
    names = [f"svc:follower-{i}" for i in range(8)]
    tasks = [asyncio.create_task(first.run(n, forever(on_first, n))) for n in names]
    await until(lambda: on_first == set(names))
    tasks += [asyncio.create_task(second.run(n, forever(on_second, n))) for n in names]
    await asyncio.sleep(1.0)  # five retries of the standby
    assert on_second == set()
    assert len(await lease_backends(dsn)) == 2  # eight leases and their standbys: two backends
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_lease_ends_with_its_work_and_the_standby_takes_it(replicas):
    _, first, second = replicas
    finished = asyncio.Event()
    on_second: set[str] = set()

    async def short() -> None:
        await finished.wait()

    held = asyncio.create_task(first.run("svc:relay", short))
    await asyncio.sleep(0.3)
    standby = asyncio.create_task(second.run("svc:relay", forever(on_second, "svc:relay")))
    await asyncio.sleep(0.5)
    assert on_second == set()
    finished.set()
    await held  # returns once the work ended and the lease was let go
    await until(lambda: on_second == {"svc:relay"})
    standby.cancel()
    await asyncio.gather(standby, return_exceptions=True)


async def test_a_lost_connection_stops_every_follower_on_it_and_hands_them_over(replicas):
    dsn, first, second = replicas
    on_first: set[str] = set()
    on_second: set[str] = set()
    names = ["svc:relay", "svc:board", "svc:clock"]
    held = [asyncio.create_task(first.run(n, forever(on_first, n))) for n in names]
    await until(lambda: on_first == set(names))
    standby = [asyncio.create_task(second.run(n, forever(on_second, n))) for n in names]
    await asyncio.sleep(0.3)
    holder_pid = (await first._connected()).conn.get_server_pid()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_terminate_backend($1)", holder_pid)
    finally:
        await conn.close()
    results = await asyncio.wait_for(asyncio.gather(*held, return_exceptions=True), 10)
    assert all(isinstance(r, LeaseLost) for r in results), results
    assert on_first == set()
    await until(lambda: on_second == set(names))
    for task in standby:
        task.cancel()
    await asyncio.gather(*standby, return_exceptions=True)


async def test_listens_share_the_lease_connection_and_end_when_it_drops(replicas):
    dsn, first, _ = replicas
    heard: list[str] = []
    listening = asyncio.Event()
    listen = asyncio.create_task(first.listen("svc:saves", lambda *args: heard.append(args[3]),
                                              listening=listening.set))
    relay = asyncio.create_task(first.run("svc:relay", forever(set(), "svc:relay")))
    await asyncio.wait_for(listening.wait(), 10)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_notify('svc:saves', 'saved')")
        await until(lambda: heard == ["saved"])
        assert len(await lease_backends(dsn)) == 1
        await conn.execute("SELECT pg_terminate_backend($1)",
                           (await first._connected()).conn.get_server_pid())
    finally:
        await conn.close()
    with pytest.raises(LeaseLost):
        await asyncio.wait_for(listen, 10)
    relay.cancel()
    await asyncio.gather(relay, return_exceptions=True)
