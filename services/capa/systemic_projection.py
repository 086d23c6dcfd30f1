"""Read model behind GET /v1/systemic-problems: one row per systemic problem, its status as
it is analysed, watched across the organisation and closed (docs/adr/systemic-cases.md)."""
from __future__ import annotations

from typing import Any

import asyncpg

from services.capa.domain import CaseStatus
from services.capa.domain.recurrence import SystemicProblem
from services.capa.domain.systemic import SystemicCase
from shared.readmodels import Apply, Projection

PROBLEMS = """
CREATE TABLE IF NOT EXISTS capa_systemic_problems (
    id uuid PRIMARY KEY,
    signature text NOT NULL,
    rule text NOT NULL,
    summary text NOT NULL,
    status text NOT NULL,
    recurrences integer NOT NULL,
    entities text[] NOT NULL,
    raised_at timestamptz NOT NULL,
    closed_at timestamptz
);
CREATE INDEX IF NOT EXISTS capa_systemic_problems_status ON capa_systemic_problems
    (status, raised_at DESC)"""


async def _raised(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "INSERT INTO capa_systemic_problems (id, signature, rule, summary, status, recurrences,"
        " entities, raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (id) DO NOTHING",
        e.originator_id, e.signature, e.rule, e.summary, CaseStatus.OPEN.value,
        len(e.recurrences), sorted({r["entity"] for r in e.recurrences}), e.at)


async def _linked(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute(
        "UPDATE capa_systemic_problems SET recurrences = recurrences + 1, entities = ("
        " SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(array_append(entities, $2)) x)"
        " WHERE id = $1", e.originator_id, e.recurrence["entity"])


def _status(status: CaseStatus) -> Apply:
    async def apply(conn: asyncpg.Connection, e: Any) -> None:
        closed_at = e.at if status is CaseStatus.CLOSED else None
        await conn.execute("UPDATE capa_systemic_problems SET status = $2, closed_at = $3"
                           " WHERE id = $1", e.originator_id, status.value, closed_at)
    return apply


class SystemicProblemsRead(Projection):
    name = "systemic"
    tables = {"capa_systemic_problems": PROBLEMS}

    def handlers(self) -> dict[type, Apply]:
        return {
            SystemicProblem.Raised: _raised,
            SystemicProblem.RecurrenceLinked: _linked,
            SystemicCase.EffectivenessWindowStarted: _status(CaseStatus.EFFECTIVENESS),
            SystemicCase.EffectivenessFailed: _status(CaseStatus.OPEN),
            SystemicCase.Closed: _status(CaseStatus.CLOSED),
        }
