"""The chase_due worker: fires every deadline phase that is due. Replica-safe like
escalate_due: due rows are read FOR UPDATE SKIP LOCKED, and the Deadline's guard refuses a
phase that already fired (two saves of one version end in IntegrityError for one)."""
from __future__ import annotations

import logging
from typing import Any

from services.notifier.workers import act_on_due_rows, poll_forever

log = logging.getLogger(__name__)

DUE_DEADLINES = """
    SELECT id, ref, key FROM deadlines
    WHERE status = 'waiting' AND next_at <= $1
    ORDER BY next_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def chase_due(runtime: Any) -> None:
    await poll_forever(runtime, fire_due_chases, "chase_due")


async def fire_due_chases(runtime: Any) -> None:
    app = runtime.application
    await act_on_due_rows(
        runtime, DUE_DEADLINES, "notifier.ChaseDue.fire",
        lambda row, now: f"{len(app.chase(row['id'], now))} message(s) scheduled",
        lambda row: {"closedloop.deadline": row["key"], "closedloop.ref": row["ref"]})
