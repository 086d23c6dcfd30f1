"""Read-model projections against real PostgreSQL: catching up, rebuilding to identical
tables, and restarting from the stored position without applying anything twice."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from shared.readmodels import PositionMoved, ProjectionRunner
from tests.integration.toy import (
    Counter, RowsToyBoard, ToyApplication, ToyBoard, eventually, head, open_app, open_pool,
    stop,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url):
    connections = await open_pool(database_url)
    yield connections
    await connections.close()


async def tables(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    async with pool.acquire() as conn:
        return {
            "toy_counters": [tuple(r) for r in await conn.fetch(
                "SELECT id, name, value, version FROM toy_counters ORDER BY id")],
            "toy_increments": [tuple(r) for r in await conn.fetch(
                "SELECT counter, version, by FROM toy_increments ORDER BY counter, version")],
        }


async def stored_position(pool: asyncpg.Pool) -> int | None:
    async with pool.acquire() as conn:
        return await conn.fetchval(
            "SELECT position FROM projection_positions WHERE projection = $1", ToyBoard.name)


async def stored_position_is(pool: asyncpg.Pool, expected: int) -> bool:
    return await stored_position(pool) == expected


def values(rows: dict[str, list[tuple[Any, ...]]]) -> dict[str, int]:
    return {name: value for _, name, value, _ in rows["toy_counters"]}


async def run_until_caught_up(app: ToyApplication, pool: asyncpg.Pool,
                              projection: ToyBoard) -> asyncio.Task:
    runner = ProjectionRunner(app, pool, projection)
    task = asyncio.create_task(runner.run())
    await eventually(lambda: task.done() or (runner.caught_up.is_set()
                                             and runner.position == head(app)),
                     message="projection caught up")
    if task.done():
        task.result()  # raise what stopped it
    return task


def increment_all(app: ToyApplication, steps: list[tuple[str, int]]) -> None:
    for name, by in steps:
        app.increment(name, by)


async def test_a_rebuild_from_the_log_gives_identical_tables(app, pool):
    increment_all(app, [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)])
    task = await run_until_caught_up(app, pool, ToyBoard())
    await stop(task)
    before = await tables(pool)
    assert values(before) == {"a": 4, "b": 7, "c": 4}
    assert len(before["toy_increments"]) == 5
    assert await stored_position(pool) == head(app) == 8

    async with pool.acquire() as conn:  # a row no event explains: a rebuild must not keep it
        await conn.execute("INSERT INTO toy_counters VALUES (gen_random_uuid(), 'ghost', 9, 1)")
    position = await ProjectionRunner(app, pool, ToyBoard()).rebuild()

    assert position == head(app)
    assert await tables(pool) == before
    assert await stored_position(pool) == position


async def test_a_restarted_projection_continues_from_its_position_without_double_applying(
        app, pool):
    increment_all(app, [("a", 1), ("b", 2)])
    first = await run_until_caught_up(app, pool, ToyBoard())
    await stop(first)
    stopped_at = await stored_position(pool)
    assert stopped_at == head(app) == 4

    increment_all(app, [("a", 10), ("c", 3)])  # saved while no projection runs
    projection = ToyBoard()
    applied: list[tuple[str, int]] = []
    projection.before_increment = lambda e: applied.append(
        (str(e.originator_id), e.originator_version))
    second = await run_until_caught_up(app, pool, projection)
    try:
        # The restart saw only what came after its stored position (plain INSERTs would have
        # failed on anything applied twice and stopped the task).
        assert applied == [(str(Counter.create_id("a")), 3), (str(Counter.create_id("c")), 2)]
        increment_all(app, [("b", 1)])  # and it keeps following the log
        await eventually(lambda: second.done() or stored_position_is(pool, head(app)),
                         message="live event applied")
        assert not second.done()
    finally:
        await stop(second)
    assert values(await tables(pool)) == {"a": 11, "b": 3, "c": 3}


async def test_a_batch_that_fails_halfway_leaves_no_trace_and_is_applied_once_on_restart(
        app, pool):
    increment_all(app, [("a", 1), ("b", 1)])
    first = await run_until_caught_up(app, pool, ToyBoard())
    await stop(first)
    assert await stored_position(pool) == 4
    before = await tables(pool)

    increment_all(app, [("a", 2), ("b", 2), ("a", 3)])  # notifications 5, 6, 7: one batch
    crashing = ToyBoard()

    def crash_on_b(e: Any) -> None:
        if e.originator_id == Counter.create_id("b"):
            raise ConnectionError("database connection lost mid-batch")

    crashing.before_increment = crash_on_b
    runner = ProjectionRunner(app, pool, crashing)
    task = asyncio.create_task(runner.run())
    await eventually(task.done, message="projection stopped by the failure")
    assert isinstance(task.exception(), ConnectionError)
    # a's increment (5) was written before the failure, and rolled back with the position.
    assert await stored_position(pool) == 4
    assert await tables(pool) == before

    restarted = await run_until_caught_up(app, pool, ToyBoard())
    try:
        assert await stored_position(pool) == head(app) == 7
        assert values(await tables(pool)) == {"a": 6, "b": 3}
        assert not restarted.done()
    finally:
        await stop(restarted)


async def test_a_runner_that_lost_its_lease_stops_instead_of_writing_out_of_order(app, pool):
    """Two runners of one projection (the first lost its lease without noticing): the stale
    one's write is refused and rolled back, so the table never goes backwards."""
    for name in ("a", "b"):
        await asyncio.to_thread(app.increment, name)
    current = await run_until_caught_up(app, pool, ToyBoard())
    await stop(current)
    before = await tables(pool)

    stale = ProjectionRunner(app, pool, ToyBoard())  # believes it is at position 0
    batch = [(n, app.decode(n)) for n in app.recorder.select_notifications(1, 10)]
    with pytest.raises(PositionMoved):
        await stale.apply(batch, batch[-1][0].id)
    assert await tables(pool) == before
    assert await stored_position(pool) == head(app)


class WiderBoard(ToyBoard):
    """The next release of ToyBoard: one more column."""
    tables = {**ToyBoard.tables,
              "toy_counters": ToyBoard.tables["toy_counters"].rstrip()[:-1] + ", note text)"}


async def columns(pool: asyncpg.Pool, schema: str) -> set[str]:
    async with pool.acquire() as conn:
        return {r["column_name"] for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = 'toy_counters'", schema)}


async def test_a_new_shape_is_built_beside_the_old_one_and_both_stay_current(app, pool, database_url):
    """A rolling deploy: the release that adds a column replays the log into its own version;
    the old release's tables are not dropped and keep being served and kept current."""
    await asyncio.to_thread(app.increment, "shape")
    old = await run_until_caught_up(app, pool, ToyBoard())
    new = await run_until_caught_up(app, pool, WiderBoard())
    wide = await open_pool(database_url, WiderBoard())
    try:
        await asyncio.to_thread(app.increment, "shape")
        await eventually(lambda: _values_are(pool, {"shape": 2}), message="old version current")
        await eventually(lambda: _values_are(wide, {"shape": 2}), message="new version current")
        assert "note" in await columns(pool, WiderBoard().version_schema("toy"))
        assert "note" not in await columns(pool, ToyBoard().version_schema("toy"))
        assert await tables(pool) == await tables(wide)
    finally:
        await stop(old), await stop(new)
        await wide.close()


async def test_pruning_drops_only_versions_nobody_keeps_current(app, pool):
    await asyncio.to_thread(app.increment, "prune")
    for board in (ToyBoard(), WiderBoard()):
        await stop(await run_until_caught_up(app, pool, board))
    async with pool.acquire() as conn:
        # Both were just kept current: a pruning with the grace period spares the old one.
        assert await WiderBoard().prune(conn, "toy", datetime.now(timezone.utc) - timedelta(minutes=15)) == []
        assert await WiderBoard().prune(conn, "toy", None) == [ToyBoard().version_schema("toy")]
        remaining = [v["schema"] for v in await WiderBoard().versions(conn, "toy")]
    assert remaining == [WiderBoard().version_schema("toy")]


async def _values_are(pool: asyncpg.Pool, expected: dict[str, int]) -> bool:
    return values(await tables(pool)) == expected


async def test_a_projection_applies_what_another_replica_saved_around_this_process_s_saves(
        app, pool, database_url):
    """A replica's saves, before and after this process's own (which wake the follower), are
    applied all the same; a skipped position never runs ahead of what is applied."""
    replica = open_app(database_url)
    try:
        increment_all(app, [("a", 1)])
        task = await run_until_caught_up(app, pool, ToyBoard())
        try:
            increment_all(replica, [("b", 2), ("b", 3)])  # saved elsewhere: this app is not told
            increment_all(app, [("a", 10)])  # its head now covers the replica's saves too
            increment_all(replica, [("c", 5)])  # beyond this app's last save: found by asking
            await eventually(lambda: task.done() or stored_position_is(pool, head(app)),
                             message="every replica's event applied")
            assert not task.done()
        finally:
            await stop(task)
    finally:
        replica.close()
    assert values(await tables(pool)) == {"a": 11, "b": 5, "c": 5}


class CreationsOnly(ToyBoard):
    """Follows only creations: increments are events of other topics to it."""

    def handlers(self) -> dict[type, Any]:
        return {Counter.Created: self.created}


async def test_events_of_other_topics_move_the_position_without_writing_it_until_one_applies(
        app, pool):
    increment_all(app, [("a", 1)])
    runner = ProjectionRunner(app, pool, CreationsOnly())
    task = asyncio.create_task(runner.run())
    try:
        await eventually(lambda: task.done() or (runner.caught_up.is_set()
                                                 and runner.position == head(app)),
                         message="caught up")
        applied = await stored_position(pool)
        increment_all(app, [("a", 2), ("a", 3)])  # nothing for it: skipped in memory
        await eventually(lambda: task.done() or runner.position == head(app),
                         message="skipped the increments")
        assert await stored_position(pool) == applied
        increment_all(app, [("b", 1)])  # a creation (then its increment): stored with it
        created = head(app) - 1

        async def stored_past_the_skips() -> bool:
            return await stored_position(pool) == created

        await eventually(lambda: task.done() or stored_past_the_skips(),
                         message="creation applied")
        assert not task.done()
    finally:
        await stop(task)
    async with pool.acquire() as conn:
        names = {r["name"] for r in await conn.fetch("SELECT name FROM toy_counters")}
    assert names == {"a", "b"}

    restarted = ProjectionRunner(app, pool, CreationsOnly())  # from the stored position
    again = asyncio.create_task(restarted.run())
    try:
        await eventually(lambda: again.done() or restarted.position == head(app),
                         message="restarted at the head")
        assert not again.done()
    finally:
        await stop(again)


async def test_handlers_marked_own_rows_write_a_batch_together_and_the_same_rows(
        app, database_url):
    # Interleaved subjects, each created then incremented several times in one batch: each
    # subject's events must still apply in order (the UPDATE needs its INSERT before it).
    increment_all(app, [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5), ("a", 6)])
    one_by_one, together = await open_pool(database_url), await open_pool(
        database_url, RowsToyBoard())
    try:
        for projection, pool in ((ToyBoard(), one_by_one), (RowsToyBoard(), together)):
            runner = ProjectionRunner(app, pool, projection)
            assert await runner.rebuild() == head(app)
        expected = await tables(one_by_one)
        assert values(expected) == {"a": 10, "b": 7, "c": 4}
        assert await tables(together) == expected
        increment_all(app, [("c", 1), ("d", 2)])  # and the next batch continues from there
        task = await run_until_caught_up(app, together, RowsToyBoard())
        await stop(task)
        assert values(await tables(together)) == {"a": 10, "b": 7, "c": 5, "d": 2}
    finally:
        await one_by_one.close()
        await together.close()
