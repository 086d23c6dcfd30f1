"""The send_digests worker: sends every digest whose period has ended, on the service's
clock. Replica-safe like the other timers: due rows are read FOR UPDATE SKIP LOCKED, and the
Digest's guard refuses a second send (two saves of one version end in IntegrityError for
one), so a digest goes out once across replicas and restarts."""
from __future__ import annotations

from typing import Any

from services.notifier.workers import act_on_due_rows, poll_forever

DUE_DIGESTS = """
    SELECT id, recipient, every FROM digests
    WHERE status = 'collecting' AND due_at <= $1
    ORDER BY due_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def send_digests(runtime: Any) -> None:
    await poll_forever(runtime, send_due_digests, "send_digests")


async def send_due_digests(runtime: Any) -> None:
    app = runtime.application
    await act_on_due_rows(
        runtime, DUE_DIGESTS, "notifier.SendDigests.send",
        lambda row, now: app.send_digest(row["id"], now),
        lambda row: {"closedloop.digest": f"{row['every']}:{row['recipient']}"})
