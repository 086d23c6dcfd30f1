"""Background workers: send due deliveries, and the due-row pass the timer workers share
(chases, hold releases; escalations batch theirs in escalation_worker.py). Replica-safe
twice over: due rows are read FOR UPDATE SKIP LOCKED so replicas do not even try the same
row at once, and each piece of work is claimed through an aggregate command whose guard
refuses a second claim (a race between two saves of the same version ends in IntegrityError
for one). Workers wake when the read models change (a new delivery projected, an outcome
recorded), and poll only as a safety net."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from services.notifier.attempts import Claimed, Due, Reported
from services.notifier.channels import guarded_session, verified_tls_context
from services.notifier.channels.lanes import Lanes, Senders
from services.notifier.domain import ATTEMPT_LEASE
from shared.bus.faults import is_infrastructure
from shared.bus import tracing
from shared.due_watch import due_rows
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



async def deliver_due(runtime: Any) -> None:
    """Send the attempts handed over by this process's handlers (handoff.py) and claim due
    ones from the read model in batches (retries, interrupted attempts, and what the handlers
    had no room for); each send runs in its own task, at most `channel_concurrency` at once
    per channel, and outcomes are recorded in batches."""
    settings, app = runtime.settings, runtime.application
    in_flight: set[UUID] = set()
    tls = verified_tls_context()
    lanes = Lanes(Senders(
        session=guarded_session(settings.egress, settings.webhook_timeout_seconds, tls),
        policy=settings.egress, tls_context=tls, timeout=settings.webhook_timeout_seconds,
        apprise_threads=settings.apprise_threads, public_url=settings.public_url or None),
        settings.channel_concurrency)
    outcomes = OutcomeRecorder(app, in_flight, settings.worker_batch)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.TaskGroup() as tasks:
            def start(jobs: list[Claimed]) -> None:
                for job in jobs:
                    in_flight.add(job.delivery_id)
                    tasks.create_task(send(runtime, lanes, job, outcomes))

            app.handoff.open(lambda jobs: loop.call_soon_threadsafe(start, jobs),
                             free=lambda: settings.worker_batch - len(in_flight))
            tasks.create_task(outcomes.run())
            while True:
                seen = runtime.read_models.generation
                room = settings.worker_batch - len(in_flight)
                start(await _survive(claim_due_deliveries(runtime, in_flight, room),
                                     "deliver_due") or [])
                await runtime.read_models.wait(seen, settings.worker_poll_seconds)
    finally:
        app.handoff.close()
        await lanes.aclose()


async def claim_due_deliveries(runtime: Any, in_flight: set[UUID], limit: int) -> list[Claimed]:
    """Lock due rows, claim them all in one event-store transaction, commit. The rows stay
    locked only that long: enough for other replicas to skip them, not long enough for the
    projection (which updates them) to queue behind a worker."""
    if limit <= 0:
        return []
    app, now = runtime.application, runtime.clock.now()
    async with due_rows(runtime.pool, DUE_DELIVERIES, now, limit, list(in_flight)) as rows:
        if not rows:
            return []
        due = [Due(row["id"], row["status"], row["attempts"]) for row in rows]
        return await asyncio.to_thread(app.claim_attempts, due, now)


async def send(runtime: Any, lanes: Lanes, job: Claimed, outcomes: "OutcomeRecorder") -> None:
    n, timeout = job.notification, runtime.settings.webhook_timeout_seconds
    try:
        async with lanes.lane(job.channel_id, job.target.kind) as integrations:
            if runtime.clock.now() + timedelta(seconds=2 * timeout) >= job.lease_until:
                # Waited so long that the lease could end mid-send and another worker send
                # it again: leave it to the interrupted-attempt path.
                log.warning("delivery %s attempt %d: lease nearly over; not sent", n.delivery_id,
                            n.attempt)
                outcomes.in_flight.discard(job.delivery_id)
                return
            with tracer.start_as_current_span(
                "notifier.DeliverDue.send", context=tracing.extract(job.trace),
                kind=SpanKind.CLIENT,
                attributes={"closedloop.delivery_id": n.delivery_id,
                            "closedloop.attempt": n.attempt, "closedloop.reason": n.reason},
            ):
                outcome = await integrations[job.target.kind].send(job.target, n,
                                                                   runtime.clock.now())
    except Exception:
        # The attempt stays claimed until its lease ends; then it counts as interrupted.
        log.exception("delivery %s attempt %d: could not send", n.delivery_id, n.attempt)
        outcomes.in_flight.discard(job.delivery_id)
        return
    outcomes.put(job, Reported(job.delivery_id, n.attempt, outcome, runtime.clock.now(),
                               job.delivery))


class OutcomeRecorder:
    """Records outcomes as they come back: whatever arrived while the previous batch was
    being saved goes into the next transaction. No outcome waits for a batch to fill: one
    sent but not recorded when the process dies is sent again once its lease ends."""

    def __init__(self, app: Any, in_flight: set[UUID], batch: int) -> None:
        self.app, self.in_flight, self.batch = app, in_flight, batch
        self.queue: asyncio.Queue[tuple[Claimed, Reported]] = asyncio.Queue()

    def put(self, job: Claimed, report: Reported) -> None:
        self.queue.put_nowait((job, report))

    async def run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty() and len(batch) < self.batch:
                batch.append(self.queue.get_nowait())
            statuses: dict[UUID, str] = {}
            try:
                statuses = await self.record([report for _, report in batch])
            except Exception:
                # These attempts stay claimed until their leases end; then they count as
                # interrupted and are tried again.
                log.exception("%d outcome(s) not recorded", len(batch))
            finally:
                for job, _ in batch:
                    self.in_flight.discard(job.delivery_id)
            for job, report in batch:
                n, error = job.notification, report.outcome.error
                # Every attempt is recorded and explained by the API; the log keeps the
                # failures at info (a storm's thousands of deliveries each cost a JSON line).
                quiet = not error and job.delivery_id in statuses
                log.log(logging.DEBUG if quiet else logging.INFO,
                        "delivery %s (%s, %s) attempt %d: %s%s", n.delivery_id,
                        n.incident["ref"], n.reason, n.attempt,
                        statuses.get(job.delivery_id, "not recorded"),
                        f" ({error})" if error else "")


    async def record(self, reports: list[Reported]) -> dict[UUID, str]:
        # While the database is away, keep trying well inside the attempts' leases: an
        # outcome given up means the message is sent again once its lease ends.
        async for attempt in AsyncRetrying(
                retry=retry_if_exception(is_infrastructure), reraise=True,
                stop=stop_after_delay(ATTEMPT_LEASE.total_seconds() / 2),
                wait=wait_exponential_jitter(initial=0.2, max=5)):
            with attempt:
                try:
                    return await asyncio.to_thread(self.app.record_outcomes, reports)
                except Exception:
                    # A save that failed leaves the claimed objects ahead of the store.
                    reports = [replace(r, claimed=None) for r in reports]
                    raise
        raise AssertionError("unreachable: tenacity reraises")


async def act_on_due_rows(runtime: Any, query: str, span: str,
                          act: Callable[[asyncpg.Record, datetime], Any],
                          describe: Callable[[asyncpg.Record], dict[str, str]]) -> None:
    """One pass of a timer worker: lock the due rows (`query` takes now and a limit, FOR
    UPDATE SKIP LOCKED), run `act(row, now)` for each in a thread, and log what it did or
    why its aggregate refused (another replica, or a lagging read model, was first)."""
    now = runtime.clock.now()
    async with due_rows(runtime.pool, query, now, runtime.settings.worker_batch) as rows:
        for row in rows:
            attributes = describe(row)
            with tracer.start_as_current_span(span, attributes=attributes):
                try:
                    outcome = await asyncio.to_thread(act, row, now)
                except REFUSED as refused:
                    log.info("%s %s: refused: %s", span, attributes, refused)
                    continue
            log.info("%s %s: %s", span, attributes, outcome)


async def poll_forever(runtime: Any, one_pass: Callable[[Any], Awaitable[Any]],
                       name: str) -> None:
    """A timer worker: one pass per poll, each surviving the failures of the last."""
    while True:
        await _survive(one_pass(runtime), name)
        await asyncio.sleep(runtime.settings.worker_poll_seconds)


async def _survive(work: Awaitable[Any], name: str) -> Any:
    """One pass of a worker loop: a failure is logged and the next poll tries again."""
    try:
        return await work
    except asyncpg.UndefinedTableError:
        return None  # the projection has not created its tables yet
    except Exception:
        log.exception("%s: pass failed; trying again", name)
        return None
