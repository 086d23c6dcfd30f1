"""The window watch: closes the CAPA cases whose effectiveness window ended with the alert
clear. Replica-safe like the incidents' SLA watch (shared/due_watch.py): due rows are read
FOR UPDATE SKIP LOCKED, and a case closes once (two replicas racing collide on the save; a
case whose alert fired first refuses)."""
from __future__ import annotations

import logging
from typing import Any

from shared.due_watch import watch_due

log = logging.getLogger(__name__)

DUE = """
    SELECT id FROM capa_cases
    WHERE status = 'effectiveness' AND effectiveness_ends_at <= $1
    ORDER BY effectiveness_ends_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def watch_windows(runtime: Any) -> None:
    settings = runtime.settings
    await watch_due(runtime, DUE, runtime.application.close_after_window,
                    batch=settings.effectiveness_batch,
                    poll_seconds=settings.effectiveness_poll_seconds,
                    done="CAPA case %s: its effectiveness window ended (closed if it's clear, "
                         "held open while its metric is silent)", log=log)
