"""Background workers: send due deliveries, fire due escalations. Replica-safe twice over:
due rows are read FOR UPDATE SKIP LOCKED so replicas do not even try the same row at once,
and each piece of work is claimed through an aggregate command whose guard refuses a second
claim (a race between two saves of the same version ends in IntegrityError for one)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from services.notifier.channels import (
    Integration, Notification, Target, WebhookChannel, guarded_client,
)
from services.notifier.domain import ChannelKind
from shared.bus import tracing
from shared.errors import DomainError
from shared.store import IntegrityError

log = logging.getLogger(__name__)
tracer = trace.get_tracer("closedloop.notifier")

# Another replica (or an earlier pass over a lagging read model) already did it.
REFUSED = (DomainError, IntegrityError)

DUE_DELIVERIES = """
    SELECT id, status, attempts FROM deliveries
    WHERE status IN ('pending', 'retrying', 'sending') AND next_attempt_at <= $1
      AND NOT (id = ANY($3::uuid[]))
    ORDER BY next_attempt_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""

DUE_ESCALATIONS = """
    SELECT incident_id FROM escalations
    WHERE status = 'waiting' AND due_at <= $1
    ORDER BY due_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED"""


@dataclass(frozen=True)
class Claimed:
    delivery_id: UUID
    target: Target
    notification: Notification
    trace: dict[str, str]


async def deliver_due(runtime: Any) -> None:
    """Claim due attempts, send each in its own task, record every outcome."""
    settings = runtime.settings
    in_flight: set[UUID] = set()
    async with guarded_client(settings.egress, settings.webhook_timeout_seconds) as client, \
            asyncio.TaskGroup() as sends:
        integrations: dict[str, Integration] = {ChannelKind.WEBHOOK: WebhookChannel(client)}
        while True:
            seen = runtime.read_models.generation
            room = settings.worker_batch - len(in_flight)
            claimed = await _survive(claim_due_deliveries(runtime, in_flight, room), "deliver_due")
            for job in claimed or []:
                in_flight.add(job.delivery_id)
                sends.create_task(send_and_record(runtime, integrations, job, in_flight))
            await runtime.read_models.wait(seen, settings.worker_poll_seconds)


async def claim_due_deliveries(runtime: Any, in_flight: set[UUID], limit: int) -> list[Claimed]:
    if limit <= 0:
        return []
    app, now = runtime.application, runtime.clock.now()
    claimed: list[Claimed] = []
    async with runtime.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(DUE_DELIVERIES, now, limit, list(in_flight))
        for row in rows:
            try:
                if row["status"] == "sending":  # its sender never reported back
                    await asyncio.to_thread(app.record_interrupted, row["id"], now)
                    continue
                job = await asyncio.to_thread(app.start_attempt, row["id"],
                                              row["attempts"] + 1, now)
            except REFUSED as refused:
                log.debug("delivery %s not claimed: %s", row["id"], refused)
                continue
            if job is None:
                log.info("delivery %s not sent: see its history for why", row["id"])
                continue
            claimed.append(Claimed(row["id"], Target(**job["target"]),
                                   Notification(**job["notification"]), job["trace"]))
    return claimed


async def send_and_record(runtime: Any, integrations: dict[str, Integration], job: Claimed,
                          in_flight: set[UUID]) -> None:
    app, n = runtime.application, job.notification
    try:
        with tracer.start_as_current_span(
            "notifier.DeliverDue.send", context=tracing.extract(job.trace), kind=SpanKind.CLIENT,
            attributes={"closedloop.delivery_id": n.delivery_id, "closedloop.attempt": n.attempt,
                        "closedloop.reason": n.reason},
        ):
            outcome = await integrations[job.target.kind].send(job.target, n, runtime.clock.now())
            status = await asyncio.to_thread(
                app.record_outcome, job.delivery_id, n.attempt, delivered=outcome.delivered,
                status_code=outcome.status_code, error=outcome.error,
                retryable=outcome.retryable, at=runtime.clock.now(),
                error_class=outcome.error_class)
        log.info("delivery %s (%s, %s) attempt %d: %s%s", n.delivery_id, n.incident["ref"],
                 n.reason, n.attempt, status, f" ({outcome.error})" if outcome.error else "")
    except REFUSED as refused:
        log.warning("delivery %s attempt %d: outcome not recorded: %s",
                    n.delivery_id, n.attempt, refused)
    except Exception:
        # The attempt stays claimed until its lease ends; then it counts as interrupted.
        log.exception("delivery %s attempt %d: could not send or record", n.delivery_id, n.attempt)
    finally:
        in_flight.discard(job.delivery_id)


async def escalate_due(runtime: Any) -> None:
    """Fire every escalation whose delay has passed; the aggregate's guard makes it once."""
    while True:
        await _survive(fire_due_escalations(runtime), "escalate_due")
        await asyncio.sleep(runtime.settings.worker_poll_seconds)


async def fire_due_escalations(runtime: Any) -> None:
    app, now = runtime.application, runtime.clock.now()
    async with runtime.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(DUE_ESCALATIONS, now, runtime.settings.worker_batch)
        for row in rows:
            attributes = {"closedloop.incident_id": row["incident_id"]}
            with tracer.start_as_current_span("notifier.EscalateDue.fire", attributes=attributes):
                try:
                    scheduled = await asyncio.to_thread(app.escalate, row["incident_id"], now)
                except REFUSED as refused:
                    log.info("escalation of incident %s not fired: %s", row["incident_id"], refused)
                    continue
            log.info("incident %s escalated: %d message(s) scheduled",
                     row["incident_id"], len(scheduled))


async def _survive(work: Awaitable[Any], name: str) -> Any:
    """One pass of a worker loop: a failure is logged and the next poll tries again."""
    try:
        return await work
    except asyncpg.UndefinedTableError:
        return None  # the projection has not created its tables yet
    except Exception:
        log.exception("%s: pass failed; trying again", name)
        return None
