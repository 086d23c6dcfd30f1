"""`closedloop replay <service>`: drop and rebuild this release's version of the read models
from the event log, show that the rebuilt tables hold exactly what was there before, and
with `--prune` drop the versions older releases left behind."""
from __future__ import annotations

import asyncio
import importlib

import asyncpg

from shared.readmodels import Projection, ProjectionRunner, quoted, read_path
from shared.service import asyncpg_dsn
from shared.settings import ServiceSettings
from shared.store import eventsourcing_env


async def table_digest(conn: asyncpg.Connection, table: str) -> tuple[int, str]:
    row = await conn.fetchrow(
        f"SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS d "
        f"FROM {table} t")
    return row["n"], row["d"]


async def replay(service: str, database_url: str, *, prune: bool = False) -> int:
    main = importlib.import_module(f"services.{service}.main")
    parts = main.service_parts()
    env = eventsourcing_env(database_url, service, ServiceSettings().cipher_key)
    application = await asyncio.to_thread(parts.application, env, parts.clock)
    pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=1, max_size=2,
                                     server_settings={"search_path": read_path(service, parts.projections)})
    same = True
    try:
        for projection in parts.projections:
            same &= await rebuild_one(application, pool, projection, service)
            if prune:
                async with pool.acquire() as conn:
                    for schema in await projection.prune(conn, service, None):
                        print(f"{projection.name}: dropped the unused version {schema}")
    finally:
        await pool.close()
        application.close()
    return 0 if same else 1


async def rebuild_one(application, pool: asyncpg.Pool, projection: Projection,
                      service_schema: str) -> bool:
    lease = projection.lease(service_schema)
    async with pool.acquire() as lock:
        if not await lock.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", lease):
            raise SystemExit(f"{projection.name} is being kept up to date by a running service; "
                             "stop the service, then replay")
        try:
            return await _rebuild(application, pool, projection, service_schema)
        finally:
            await lock.execute("SELECT pg_advisory_unlock(hashtext($1))", lease)


async def _rebuild(application, pool: asyncpg.Pool, projection: Projection,
                   service_schema: str) -> bool:
    schema = quoted(projection.version_schema(service_schema))
    async with pool.acquire() as conn:
        await projection.create(conn, service_schema)
        before = {t: await table_digest(conn, f"{schema}.{quoted(t)}") for t in projection.tables}
    position = await ProjectionRunner(application, pool, projection,
                                      service_schema=service_schema).rebuild()
    async with pool.acquire() as conn:
        after = {t: await table_digest(conn, f"{schema}.{quoted(t)}") for t in projection.tables}
    for table in projection.tables:
        verdict = "identical" if before[table] == after[table] else "CHANGED"
        print(f"{projection.name}.{table}: {before[table][0]} rows before, "
              f"{after[table][0]} after, {verdict} (replayed to notification {position})")
    return before == after
