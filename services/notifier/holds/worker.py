"""The release worker: looks again at held incidents whose hold has ended (or whose holding
rule changed) on the service's clock. Replica-safe like the other workers: due rows are read
FOR UPDATE SKIP LOCKED, and the opening's guard refuses a look at a version other than the
one the row showed, so two passes never release (or re-hold) the same incident twice."""
from __future__ import annotations

import logging
from typing import Any

from services.notifier.workers import _survive, act_on_due_rows

log = logging.getLogger(__name__)

DUE_HOLDS = """
    SELECT incident_id, version FROM openings
    WHERE status = 'held' AND recheck_at <= $1
    ORDER BY recheck_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def release_held(runtime: Any) -> None:
    """Wakes when the read models change (a silence expired early, an inhibiting incident
    resolved) and polls as the clock moves."""
    while True:
        seen = runtime.read_models.generation
        await _survive(recheck_due_holds(runtime), "release_held")
        await runtime.read_models.wait(seen, runtime.settings.worker_poll_seconds)


async def recheck_due_holds(runtime: Any) -> None:
    app = runtime.application
    await act_on_due_rows(
        runtime, DUE_HOLDS, "notifier.ReleaseHeld.recheck",
        lambda row, now: app.release_held(row["incident_id"], row["version"], now),
        lambda row: {"closedloop.incident_id": row["incident_id"]})
