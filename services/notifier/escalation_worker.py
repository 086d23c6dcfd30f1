"""The escalation worker: fires due ladder steps (and re-triggers) in batches, a transaction
each, two passes at a time on disjoint rows (FOR UPDATE SKIP LOCKED); each step's guard
still makes it once (adr/escalation-batches.md)."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from opentelemetry import trace

from services.notifier.workers import REFUSED, _survive
from shared.bus.faults import is_infrastructure
from shared.due_watch import due_rows

log = logging.getLogger(__name__)
tracer = trace.get_tracer("closedloop.notifier")

# Leaves out the rows this worker fired whose change the read model has not shown yet
# (same incident, same due_at): they would only be refused again.
DUE_ESCALATIONS = """
    SELECT incident_id, due_at FROM escalations
    WHERE status IN ('waiting', 'acknowledged') AND due_at <= $1
      AND (incident_id, due_at) NOT IN (SELECT * FROM unnest($3::text[], $4::timestamptz[]))
    ORDER BY due_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""
# How long a fired row is left out at most: a read model that far behind has it refused.
FIRED_REMEMBERED_SECONDS = 60.0
ESCALATION_PASSES = 2


async def escalate_due(runtime: Any) -> None:
    """Fire every escalation whose step is due, a batch per transaction; the aggregate's
    guard makes each step once. A full batch is followed at once by the next; otherwise the
    worker waits for the read models to change (a new timer, a step recorded) or a poll."""
    fired = FiredRows()

    async def passes() -> None:
        while True:
            seen = runtime.read_models.generation
            if not await _survive(fire_due_escalations(runtime, fired), "escalate_due"):
                await runtime.read_models.wait(seen, runtime.settings.worker_poll_seconds)

    # Two passes at a time (on disjoint rows: SKIP LOCKED): while one batch is written, the
    # next is read and fired, instead of waiting on the event loop's turns between them.
    async with asyncio.TaskGroup() as tasks:
        for _ in range(ESCALATION_PASSES):
            tasks.create_task(passes())


class FiredRows:
    """Rows this worker took to fire, as the read model showed them, until it shows their
    change (or a minute has passed)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, datetime], float] = {}

    def add(self, incident_id: str, due_at: datetime) -> None:
        self._rows[(incident_id, due_at)] = time.monotonic()

    def forget(self, incident_ids: Iterable[str]) -> None:
        gone = set(incident_ids)
        self._rows = {row: t for row, t in self._rows.items() if row[0] not in gone}

    def excluded(self) -> tuple[list[str], list[datetime]]:
        oldest = time.monotonic() - FIRED_REMEMBERED_SECONDS
        self._rows = {row: t for row, t in self._rows.items() if t >= oldest}
        return [i for i, _ in self._rows], [d for _, d in self._rows]


async def fire_due_escalations(runtime: Any, fired: FiredRows | None = None) -> bool:
    """Lock up to `escalation_batch` due rows and fire their steps in one event-store
    transaction (escalate_together); when that batch cannot be written (one of them was
    changed by another writer), one by one. Returns whether the batch was full."""
    app, now = runtime.application, runtime.clock.now()
    limit, fired = runtime.settings.escalation_batch, fired or FiredRows()
    async with due_rows(runtime.pool, DUE_ESCALATIONS, now, limit, *fired.excluded()) as rows:
        if not rows:
            return False
        # Left out of the other pass's queries from now: once this transaction commits, its
        # locks no longer keep them out.
        for row in rows:
            fired.add(row["incident_id"], row["due_at"])
        ids = [row["incident_id"] for row in rows]
        with tracer.start_as_current_span("notifier.EscalateDue.fire",
                                          attributes={"closedloop.escalations": len(ids)}):
            try:
                results = await _fire(app, ids, now)
            except BaseException:
                fired.forget(ids)  # not fired: the next pass tries them again
                raise
        for row, result in zip(rows, results):
            if isinstance(result, Exception):
                log.info("escalation of incident %s not fired: %s", row["incident_id"], result)
            else:
                log.info("incident %s escalated: %d message(s) scheduled",
                         row["incident_id"], len(result))
    return len(rows) == limit


async def _fire(app: Any, ids: list[str], now: datetime) -> list[list[str] | Exception]:
    try:
        return await asyncio.to_thread(app.escalate_together, ids, now)
    except Exception as failed:
        if is_infrastructure(failed):
            raise
        log.info("%d escalation(s) not fired together (%s): one by one", len(ids), failed)
        return [await _escalate_one(app, i, now) for i in ids]


async def _escalate_one(app: Any, incident_id: str, now: datetime) -> list[str] | Exception:
    try:
        return await asyncio.to_thread(app.escalate, incident_id, now)
    except REFUSED as refused:
        return refused
