"""External alerts in, from every sender (Alertmanager, PagerDuty, mapped JSON webhooks):
deduplicated against the in-memory firing set, and only what changed stored, in one
transaction (docs/adr/alert-ingest.md, docs/adr/alert-sources.md)."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random

from shared.service import ServiceRuntime
from shared.store import IntegrityError

from services.detector.alertmanager import alertmanager_alerts, external_alerts, sent_states
from services.detector.domain import alert_id_for
from services.detector.external import ExternalAlert
from services.detector.firing import FiringSet, events_table

# Webhook bodies are a few kilobytes; a big API v2 list is parsed in a worker thread so the
# event loop keeps answering meanwhile.
INLINE_BODY_BYTES = 256 * 1024
# Another replica storing the same alerts at the same moment costs one more attempt; this
# many in a row means something keeps writing them, and the sender is told to retry (503).
CONFLICT_ATTEMPTS = 5


class AlertIngest:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.app, self.pool = runtime.application, runtime.pool
        self.firing = FiringSet(events_table(self.app.recorder))
        # One request of this replica stores at a time: the events table takes one writer at
        # a time anyway, and this way the replica's own requests never conflict.
        self._writing = asyncio.Lock()

    async def receive(self, body: bytes, *, actor: str, cause: dict[str, Any]) -> dict[str, int]:
        """An Alertmanager body. Raises RequestValidationError for a malformed body, and
        IntegrityError when other replicas kept changing the same alerts through every
        attempt."""
        began, now = time.monotonic(), self.app.clock.now()
        alerts, status = (await asyncio.to_thread(alertmanager_alerts, body)
                          if len(body) > INLINE_BODY_BYTES else alertmanager_alerts(body))
        # The full ExternalAlert is built only when something changed.
        return await self._decide(sent_states(alerts, now, status),
                                  lambda: external_alerts(alerts, now, status),
                                  began=began, actor=actor, cause=cause)

    async def receive_alerts(self, alerts: list[ExternalAlert], *, actor: str,
                             cause: dict[str, Any]) -> dict[str, int]:
        """Alerts already read from another sender's format (PagerDuty, a mapped webhook)."""
        return await self._decide([a.sent_state for a in alerts], lambda: alerts,
                                  began=time.monotonic(), actor=actor, cause=cause)

    async def _decide(self, states: list[tuple[str, bool]], build: Callable[[], list[ExternalAlert]],
                      *, began: float, actor: str, cause: dict[str, Any]) -> dict[str, int]:
        await self.firing.catch_up(self.pool, since=began)
        if all(firing == bool(self.firing.get(alert_id_for(fingerprint)))
               for fingerprint, firing in states):
            return {"accepted": len(states), "raised": 0, "resolved": 0}  # re-sends only
        async with self._writing:
            retrying = AsyncRetrying(retry=retry_if_exception_type(IntegrityError), reraise=True,
                                     stop=stop_after_attempt(CONFLICT_ATTEMPTS),
                                     wait=wait_random(0, 0.01))
            async for attempt in retrying:
                with attempt:
                    # What was stored while this request waited, or by the conflict's winner.
                    await self.firing.catch_up(self.pool, since=time.monotonic())
                    return await asyncio.to_thread(
                        self._store, build, actor=actor, cause=cause,
                        retried=attempt.retry_state.attempt_number > 1)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _store(self, build: Callable[[], list[ExternalAlert]], *, actor: str,
               cause: dict[str, Any], retried: bool) -> dict[str, int]:
        # After a conflict the set may miss what the winner stored: read what it does not know.
        return self.app.receive_external(build(), self.firing.get, actor=actor, cause=cause,
                                         read_unknown=retried)


def ingest_of(runtime: ServiceRuntime) -> AlertIngest:
    """The one alert ingest of this process, made on first use."""
    if "alert_ingest" not in runtime.components:
        runtime.components["alert_ingest"] = AlertIngest(runtime)
    return runtime.components["alert_ingest"]
