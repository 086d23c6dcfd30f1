"""Reports over a large read model: 100,000 incidents over a year (COPY into `incidents` and
`report_facts`), then the weekly self-check table, the KPIs, MTTA/MTTR by day and the repeat
problems timed, for the whole organisation and for one unit. Prints the figures.

    PYTHONPATH=. python -m tests.bench.bench_reports [incidents]"""
from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import asyncpg

from services.incidents.projections import IncidentsProjection
from services.incidents.reports.facts import ReportFactsProjection
from services.incidents.reports.period import period_of
from services.incidents.reports.selfcheck import self_check
from services.incidents.reports.trends import kpis, repeats, response_times
from services.incidents.sla_policies import default_policies
from services.incidents.domain.vocabulary import SLA
from tests.bench.infra import percentile, servers

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
UNITS = [f"unit-{n:02d}" for n in range(20)]
REGIONS = {unit: f"region-{n % 4}" for n, unit in enumerate(UNITS)}
TYPES = ["system_outage", "complaint", "wait_time", "equipment_failure", "nps_drop", None]
SOURCES = ["rule", "alertmanager", "pagerduty", "manual", "ticket"]
RUNS = 20


def rows(count: int, seed: int = 7):
    rnd = random.Random(seed)
    incidents, facts = [], []
    for n in range(count):
        severity = rnd.choices(["P0", "P1", "P2", "P3"], [1, 4, 10, 20])[0]
        sla = SLA[severity]  # type: ignore[index]
        opened = START + timedelta(seconds=rnd.uniform(0, 364 * 86400))
        ack = opened + timedelta(seconds=rnd.expovariate(1 / (sla.respond.total_seconds() * .7)))
        resolved = opened + timedelta(
            seconds=rnd.expovariate(1 / (sla.resolve.total_seconds() * .6)))
        closed = resolved + timedelta(days=rnd.uniform(0, 5)) if rnd.random() < .8 else None
        entity = f"store-{rnd.randrange(500):03d}"
        kind = rnd.choice(TYPES)
        ident = uuid.uuid4()
        incidents.append((ident, f"{severity}-B-{n:06d}", "closed" if closed else "resolved",
                          severity, "bench", entity, f"fp-{n}", opened, ack, resolved, closed,
                          opened + sla.respond, opened + sla.resolve, rnd.random() < .02))
        tiers = rnd.choice([0, 1, 1, 2])
        unit = rnd.choice(UNITS)
        facts.append((ident, opened, unit, [unit, REGIONS[unit]], kind, rnd.choice(SOURCES), entity,
                      f"{entity} · {kind or 'unnamed'}", tiers, 0,
                      None if tiers == 0 else tiers == 1, int(rnd.random() < .03)))
    return incidents, facts


async def load(url: str, count: int) -> asyncpg.Pool:
    conn = await asyncpg.connect(url)
    for projection in (IncidentsProjection(), ReportFactsProjection()):
        for ddl in projection.tables.values():
            await conn.execute(ddl)
    incidents, facts = rows(count)
    began = time.perf_counter()
    await conn.copy_records_to_table(
        "incidents", records=incidents,
        columns=["id", "ref", "status", "severity", "title", "entity", "fingerprint",
                 "opened_at", "acknowledged_at", "resolved_at", "closed_at", "respond_by",
                 "resolve_by", "drill"])
    await conn.copy_records_to_table(
        "report_facts", records=facts,
        columns=["id", "opened_at", "unit", "unit_keys", "problem_type", "source", "entity", "problem", "tier_entries",
                 "handovers", "first_line", "reopens"])
    await conn.execute("ANALYZE incidents; ANALYZE report_facts")
    print(f"COPY {count:,} incidents + facts: {time.perf_counter() - began:.1f} s")
    await conn.close()
    return await asyncpg.create_pool(url, min_size=1, max_size=1)


async def timed(label: str, pool: asyncpg.Pool, query) -> None:
    took = []
    for _ in range(RUNS):
        async with pool.acquire() as conn:
            began = time.perf_counter()
            await query(conn)
            took.append((time.perf_counter() - began) * 1000)
    print(f"  {label:<44} p50 {percentile(took, 50):7.1f} ms   p99 "
          f"{percentile(took, 99):7.1f} ms")


async def run(url: str, count: int) -> None:
    pool = await load(url, count)
    now = datetime(2027, 1, 10, tzinfo=timezone.utc)
    week, month = period_of({"week": "2026-W49"}, now), \
        period_of({"from": "2026-11-01", "to": "2026-11-30"}, now)
    async with pool.acquire() as conn:
        opened = await conn.fetchval("SELECT count(*) FROM incidents WHERE opened_at >= $1 "
                                     "AND opened_at < $2", week.start, week.end)
    print(f"{RUNS} runs each; 2026-W49 holds {opened:,} incidents")
    policies = default_policies()
    for label, period, unit in (("week", week, None), ("week, one unit", week, "unit-03"),
                                ("week, one region", week, "region-1"), ("month", month, None)):
        await timed(f"self-check table ({label})", pool,
                    lambda c, p=period, u=unit: self_check(c, p, now, u, policies))
    await timed("KPIs (week)", pool, lambda c: kpis(c, week, now, None))
    await timed("repeat problems (week)", pool, lambda c: repeats(c, week, now, None))
    await timed("MTTA/MTTR by day and unit (month)", pool,
                lambda c: response_times(c, month, now, None, "day", "unit"))
    await pool.close()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    count = int(argv[0]) if argv else 100_000
    with servers() as (_, url):
        asyncio.run(run(url, count))


if __name__ == "__main__":
    main()
