"""`closedloop replay <service>`: drop and rebuild read models from the event log, and show
that the rebuilt tables hold exactly what was there before."""
from __future__ import annotations

import asyncio
import importlib

import asyncpg

from shared.readmodels import Projection, ProjectionRunner
from shared.service import asyncpg_dsn
from shared.settings import ServiceSettings
from shared.store import eventsourcing_env


async def table_digest(conn: asyncpg.Connection, table: str) -> tuple[int, str]:
    row = await conn.fetchrow(
        f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS d "
        f"FROM {table} t")
    return row["n"], row["d"]


async def replay(service: str, database_url: str) -> int:
    main = importlib.import_module(f"services.{service}.main")
    parts = main.service_parts()
    env = eventsourcing_env(database_url, service, ServiceSettings().cipher_key)
    application = await asyncio.to_thread(parts.application, env, parts.clock)
    pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=1, max_size=2,
                                     server_settings={"search_path": service})
    same = True
    try:
        for projection in parts.projections:
            same &= await rebuild_one(application, pool, projection)
    finally:
        await pool.close()
        application.close()
    return 0 if same else 1


async def rebuild_one(application, pool: asyncpg.Pool, projection: Projection) -> bool:
    lease = f"{application.env.get('POSTGRES_SCHEMA')}:projection:{projection.name}"
    async with pool.acquire() as lock:
        if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lease):
            raise SystemExit(f"{projection.name} is being kept up to date by a running service; "
                             "stop the service, then replay")
        try:
            return await _rebuild(application, pool, projection)
        finally:
            await lock.execute("SELECT pg_advisory_unlock(hashtext($1))", lease)


async def _rebuild(application, pool: asyncpg.Pool, projection: Projection) -> bool:
    async with pool.acquire() as conn:
        await projection.create(conn)
        before = {t: await table_digest(conn, t) for t in projection.tables}
    position = await ProjectionRunner(application, pool, projection).rebuild()
    async with pool.acquire() as conn:
        after = {t: await table_digest(conn, t) for t in projection.tables}
    for table in projection.tables:
        verdict = "identical" if before[table] == after[table] else "CHANGED"
        print(f"{projection.name}.{table}: {before[table][0]} rows before, "
              f"{after[table][0]} after, {verdict} (replayed to notification {position})")
    return before == after
