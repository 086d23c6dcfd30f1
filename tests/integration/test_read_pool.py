"""The read pool on real PostgreSQL: a released connection comes back with no transaction
open and nothing of its last user's transaction, its search path intact; timers' due rows
are locked while acted on, and nothing is locked when none is due."""
from __future__ import annotations

import uuid

import asyncpg
import pytest

from shared.due_watch import due_rows
from shared.read_pool import read_pool
from shared.service import asyncpg_dsn

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url):
    pool = await read_pool(asyncpg_dsn(database_url), size=1, search_path="pg_catalog, public",
                           name="closedloop-test")
    yield pool
    await pool.close()


@pytest.fixture
async def table(pool):
    name = f"read_pool_{uuid.uuid4().hex[:8]}"
    async with pool.acquire() as conn:
        await conn.execute(f"CREATE TABLE public.{name} (id int PRIMARY KEY, due int)")
    yield f"public.{name}"
    async with pool.acquire() as conn:
        await conn.execute(f"DROP TABLE public.{name}")


async def test_a_released_connection_keeps_nothing_of_its_last_transaction(pool, table):
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SET LOCAL statement_timeout = 1234")
            await conn.execute("SELECT pg_advisory_xact_lock(42)")
        await conn.execute("BEGIN")  # a user that leaves a transaction open
        await conn.execute(f"INSERT INTO {table} VALUES (1, 1)")
    async with pool.acquire() as conn:  # the same connection: the pool holds one
        assert not conn.is_in_transaction()
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
        assert await conn.fetchval("SHOW statement_timeout") == "0"
        assert await conn.fetchval("SHOW search_path") == "pg_catalog, public"
        assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = "
                                   "'advisory' AND pid = pg_backend_pid()") == 0


async def test_due_rows_are_locked_while_acted_on_and_none_when_nothing_is_due(
        pool, table, database_url):
    due = (f"SELECT id FROM {table} WHERE due <= $1 ORDER BY id "
           "FOR UPDATE SKIP LOCKED")
    other = await asyncpg.connect(asyncpg_dsn(database_url))  # another replica's pass
    try:
        await other.execute(f"INSERT INTO {table} VALUES (1, 10), (2, 20)")
        async with due_rows(pool, due, 5) as rows:
            assert rows == []
        async with due_rows(pool, due, 15) as rows:
            assert [r["id"] for r in rows] == [1]
            assert [r["id"] for r in await other.fetch(due, 30)] == [2]  # 1 is held
        assert [r["id"] for r in await other.fetch(due, 30)] == [1, 2]  # released
    finally:
        await other.close()
