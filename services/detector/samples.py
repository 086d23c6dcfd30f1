"""The sample store: every accepted sample, kept for the metric's retention. Backtests read
it, and the evaluator rebuilds its state from it when it starts or a rule changes."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import numpy as np

TABLES = [  # created in the service's schema: samples outlive every read-model version
    """CREATE TABLE IF NOT EXISTS {schema}series (
        id bigserial PRIMARY KEY, metric text NOT NULL, entity text NOT NULL,
        labels jsonb NOT NULL DEFAULT '{}', UNIQUE (metric, entity))""",
    # Times are epoch seconds: the evaluator works in them and binary COPY of a float is cheap.
    """CREATE TABLE IF NOT EXISTS {schema}samples (
        series_id bigint NOT NULL, ts double precision NOT NULL, value double precision NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS samples_by_series ON {schema}samples (series_id, ts)",
    "CREATE INDEX IF NOT EXISTS samples_by_time ON {schema}samples USING brin (ts)",
]
HISTORY_CHUNK = 50_000


class SampleStore:
    def __init__(self, pool: asyncpg.Pool, schema: str | None = None) -> None:
        self.pool, self.schema = pool, schema

    async def create(self) -> None:
        prefix = f'"{self.schema}".' if self.schema else ""
        async with self.pool.acquire() as conn:
            for ddl in TABLES:
                await conn.execute(ddl.replace("{schema}", prefix))

    async def register(self, keys: Sequence[tuple[str, str, dict[str, str]]]) -> list[int]:
        """Ids of (metric, entity) series, creating them; labels are the latest seen."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """INSERT INTO series (metric, entity, labels)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
                   ON CONFLICT (metric, entity) DO UPDATE SET labels = EXCLUDED.labels
                   RETURNING id, metric, entity""",
                [k[0] for k in keys], [k[1] for k in keys], [json.dumps(k[2]) for k in keys])
        ids = {(r["metric"], r["entity"]): r["id"] for r in rows}
        return [ids[(k[0], k[1])] for k in keys]

    async def append(self, series_ids: np.ndarray, ts: np.ndarray, values: np.ndarray) -> None:
        if len(series_ids) == 0:
            return
        records = zip(series_ids.tolist(), ts.tolist(), values.tolist())
        async with self.pool.acquire() as conn:
            await conn.copy_records_to_table("samples", schema_name=self.schema, records=records,
                                             columns=["series_id", "ts", "value"])

    async def latest(self, keys: Sequence[tuple[str, str]] | None = None,
                     metrics: Sequence[str] | None = None) -> dict[tuple[str, str], tuple[float, float]]:
        """(metric, entity) → (ts, value) of its latest stored sample, for the series named
        by `keys` or else every series of `metrics`, those that have a sample."""
        if keys is not None:
            where = ("JOIN unnest($1::text[], $2::text[]) k(metric, entity) "
                     "ON r.metric = k.metric AND r.entity = k.entity")
            args: list[Any] = [[k[0] for k in keys], [k[1] for k in keys]]
        else:
            where, args = "", [list(metrics or [])]
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"""SELECT r.metric, r.entity, l.ts, l.value FROM series r {where}
                    CROSS JOIN LATERAL (SELECT ts, value FROM samples s WHERE s.series_id = r.id
                                        ORDER BY ts DESC LIMIT 1) l"""
                + ("" if keys is not None else " WHERE r.metric = ANY($1::text[])"), *args)
        return {(r["metric"], r["entity"]): (r["ts"], r["value"]) for r in rows}

    async def series(self) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT id, metric, entity, labels FROM series")
        return [{**dict(r), "labels": json.loads(r["labels"])} for r in rows]

    async def metrics(self) -> set[str]:
        async with self.pool.acquire() as conn:
            return {r["metric"] for r in await conn.fetch("SELECT DISTINCT metric FROM series")}

    async def history(self, since: float, until: float | None = None,
                      metrics: list[str] | None = None) -> AsyncIterator[tuple[np.ndarray, ...]]:
        """Stored samples in time order, as (series ids, ts, values) chunks; only those of
        `metrics` when given."""
        query = ("SELECT s.series_id, s.ts, s.value FROM samples s"
                 + (" JOIN series r ON r.id = s.series_id AND r.metric = ANY($3)" if metrics is not None else "")
                 + " WHERE s.ts >= $1 AND s.ts <= $2 ORDER BY s.ts, s.series_id")
        args: list[Any] = [since, until if until is not None else float("inf")]
        if metrics is not None:
            args.append(metrics)
        async with self.pool.acquire() as conn, conn.transaction():
            rows: list[tuple] = []
            async for row in conn.cursor(query, *args, prefetch=HISTORY_CHUNK):
                rows.append(tuple(row))
                if len(rows) == HISTORY_CHUNK:
                    yield _columns(rows)
                    rows = []
            if rows:
                yield _columns(rows)

    async def prune(self, retention: dict[str, float], default: float, now: float) -> int:
        """Drop samples older than their metric's retention."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                """DELETE FROM samples s USING series r
                   WHERE r.id = s.series_id
                     AND s.ts < $3 - coalesce(($1::jsonb ->> r.metric)::float8, $2)""",
                json.dumps(retention), default, now)
        return int(status.split()[-1])


def _columns(rows: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.array(rows, dtype=np.float64)
    return data[:, 0].astype(np.int64), data[:, 1], data[:, 2]
