"""The read pool on real PostgreSQL: a released connection comes back with no transaction
open and nothing of its last user's transaction, its search path intact."""
from __future__ import annotations

import uuid

import pytest

from shared.read_pool import read_pool
from shared.service import asyncpg_dsn

pytestmark = pytest.mark.integration


async def test_a_released_connection_keeps_nothing_of_its_last_transaction(database_url):
    table = f"read_pool_{uuid.uuid4().hex[:8]}"
    pool = await read_pool(asyncpg_dsn(database_url), size=1, search_path="pg_catalog, public",
                           name="closedloop-test")
    try:
        async with pool.acquire() as conn:
            await conn.execute(f"CREATE TABLE public.{table} (n int)")
            async with conn.transaction():
                await conn.execute("SET LOCAL statement_timeout = 1234")
                await conn.execute("SELECT pg_advisory_xact_lock(42)")
            await conn.execute("BEGIN")  # a user that leaves a transaction open
            await conn.execute(f"INSERT INTO public.{table} VALUES (1)")
        async with pool.acquire() as conn:  # the same connection: the pool holds one
            assert not conn.is_in_transaction()
            assert await conn.fetchval(f"SELECT count(*) FROM public.{table}") == 0
            assert await conn.fetchval("SHOW statement_timeout") == "0"
            assert await conn.fetchval("SHOW search_path") == "pg_catalog, public"
            assert await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = "
                                       "'advisory' AND pid = pg_backend_pid()") == 0
            await conn.execute(f"DROP TABLE public.{table}")
    finally:
        await pool.close()


async def test_due_rows_are_locked_while_acted_on_and_nothing_is_locked_when_none_is_due(
        database_url):
    from shared.due_watch import due_rows
    table = f"due_rows_{uuid.uuid4().hex[:8]}"
    due = f"SELECT id FROM public.{table} WHERE due <= $1 ORDER BY id FOR UPDATE SKIP LOCKED"
    pool = await read_pool(asyncpg_dsn(database_url), size=2, search_path="public",
                           name="closedloop-test")
    try:
        async with pool.acquire() as other:
            await other.execute(f"CREATE TABLE public.{table} (id int PRIMARY KEY, due int)")
            await other.execute(f"INSERT INTO public.{table} VALUES (1, 10), (2, 20)")
            async with due_rows(pool, due, 5) as rows:
                assert rows == []
            async with due_rows(pool, due, 15) as rows:
                assert [r["id"] for r in rows] == [1]
                # Another replica's pass skips what this one holds.
                assert [r["id"] for r in await other.fetch(due, 30)] == [2]
            assert [r["id"] for r in await other.fetch(due, 30)] == [1, 2]  # released
            await other.execute(f"DROP TABLE public.{table}")
    finally:
        await pool.close()
