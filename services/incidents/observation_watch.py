"""The observation watch: closes the self-fixed incidents whose observation window ended with
the alert clear (shared/due_watch.py: replica-safe; a re-fire or another replica first makes
the aggregate refuse, and the row is skipped)."""
from __future__ import annotations

import logging
from typing import Any

from shared.due_watch import watch_due

log = logging.getLogger(__name__)

DUE = """
    SELECT id FROM incidents
    WHERE status = 'observing' AND observe_ends_at <= $1
    ORDER BY observe_ends_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


async def watch_observations(runtime: Any) -> None:
    await watch_due(runtime, DUE, runtime.application.close_after_observation,
                    batch=runtime.settings.sla_batch,
                    poll_seconds=runtime.settings.sla_poll_seconds,
                    done="incident %s closed: its observation window ended clear", log=log)
