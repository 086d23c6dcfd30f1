"""Durable pull consumers. Each message's effects are saved with a tracking row (keyed by the
publisher's message id) in the same transaction, so a redelivery or a republish is recognised
and acknowledged without doing anything twice. While the database or NATS is away the consumer
holds its messages and waits; only messages refused as invalid, or that a handler keeps failing
on, go to the dead-letter stream and are terminated."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from shared.bus import tracing
from shared.bus.deadletter import REPLAY_FOR, dead_letter
from shared.bus.faults import is_infrastructure
from shared.bus.hold import through_outages
from shared.bus.tracking import TrackingPruner, tracking_for
from shared.clock import Clock, SystemClock
from shared.contracts import CloudEvent, Contract, contract_for_type
from shared.store import IntegrityError, ServiceApplication, Tracking

log = logging.getLogger(__name__)

# handler(envelope, contract, tracking) runs in a worker thread: get → call → save_tracked.
Handler = Callable[[CloudEvent, Contract, Tracking], None]


class Rejected(Exception):
    """A handler's verdict that a message can never be processed (goes to the DLQ)."""


@dataclass
class Subscription:
    stream: str
    handlers: dict[type[Contract], Handler]
    subjects: list[str] = field(default_factory=list)
    # Called with a batch's contracts before its handlers run, to read what they will need in
    # a few queries instead of one each (ServiceApplication.read_ahead).
    read_ahead: Callable[[list[Contract]], None] | None = None

    def __post_init__(self) -> None:
        if not self.subjects:
            self.subjects = [c.type_name() for c in self.handlers]


@dataclass
class Delivery:
    """One fetched message, read and matched to its handler."""

    msg: Any
    envelope: CloudEvent
    contract: Contract
    handler: Handler
    tracking: Tracking


class DurableConsumer:
    """`max_deliver` counts handler failures only: JetStream itself never gives up on a
    message (its max_deliver is unlimited), because redeliveries after an outage or a crash
    say nothing about the message."""

    PENDING_EVERY_SECONDS = 5.0  # how often num_pending is refreshed on /metrics
    BATCH_CONFLICTS = 3  # a batch that conflicts with another writer is run again this often

    def __init__(self, app: ServiceApplication, js: Any, service: str, subscription: Subscription,
                 *, batch: int = 100, max_deliver: int = 5, metrics: Any = None,
                 clock: Clock | None = None, max_hold_wait: float = 10.0) -> None:
        self.app, self.js, self.service, self.sub = app, js, service, subscription
        self.batch, self.max_deliver, self.metrics = batch, max_deliver, metrics
        self.max_hold_wait = max_hold_wait
        self.durable = f"{service}-{subscription.stream.lower()}"
        self.tracer = trace.get_tracer("closedloop.consumer")
        self.pruner = TrackingPruner(app, clock or SystemClock())
        self._in_hand: list[Any] = []  # fetched, not yet acked or termed: kept alive while held

    async def run(self) -> None:
        config = ConsumerConfig(
            durable_name=self.durable, ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL, filter_subjects=self.sub.subjects,
            ack_wait=30, max_deliver=-1, max_ack_pending=1000,
        )
        info = await self.js.stream_info(self.sub.stream)
        await self.pruner.start(info.config.max_age)
        # Create or update: a release that adds a contract or changes limits must reach an
        # existing durable (pull_subscribe alone only creates missing ones).
        await self.js.add_consumer(self.sub.stream, config)
        psub = await self.js.pull_subscribe_bind(durable=self.durable, stream=self.sub.stream)
        loop = asyncio.get_running_loop()
        pending_at = 0.0
        try:
            while True:
                if self.metrics is not None and loop.time() >= pending_at:
                    pending_at = loop.time() + self.PENDING_EVERY_SECONDS
                    await self._observe_pending(psub)
                await self.pruner.maybe_prune()
                try:
                    messages = await psub.fetch(self.batch, timeout=1)
                except (NatsTimeout, asyncio.TimeoutError):
                    continue
                await self.handle_all(messages)
        finally:
            # Leave no subscription behind: unread messages on it would stall the drain.
            await psub.unsubscribe()

    async def _observe_pending(self, psub: Any) -> None:
        try:
            info = await psub.consumer_info()
        except Exception as error:  # NATS away: the fetch below reports it
            if not is_infrastructure(error):
                raise
            return
        self.metrics.observe_consumer(self.durable, info.num_pending)

    async def handle_all(self, messages: list[Any]) -> None:
        """Handle a fetched batch in one transaction when every message goes through; else
        (a redelivery, a conflict, a handler error, an outage) one by one, each with its own
        verdict."""
        self._in_hand = list(messages)
        if self.metrics is not None:
            again = sum(1 for m in messages if m.metadata.num_delivered > 1)
            if again:
                self.metrics.redeliveries.labels(self.durable).inc(again)
        readable = []
        for msg in messages:
            addressed_to = (msg.headers or {}).get(REPLAY_FOR)
            if addressed_to and addressed_to != self.durable:
                await self._ack(msg)  # a dead letter replayed for another consumer
                continue
            try:
                readable.append(Delivery(msg, *self.read(msg)))
            except (ValidationError, ValueError, KeyError) as error:
                await self.reject(msg, f"unreadable message: {error}")
        readable = await self._skip_processed(readable)
        if len(readable) > 1 and await asyncio.to_thread(self._all_at_once, readable):
            for delivery in readable:
                await self._ack(delivery.msg)
            if self.metrics is not None:
                self.metrics.consumed.labels(self.sub.stream).inc(len(readable))
            return
        for delivery in readable:
            await self.handle_one(delivery)

    async def _skip_processed(self, deliveries: list["Delivery"]) -> list["Delivery"]:
        """Acknowledge redelivered messages that were processed already (their ack was lost,
        or the process died before it), so the rest of their batch can still go in at once:
        one of them in a batch would fail its commit and send every message one by one."""
        again = [d for d in deliveries if d.msg.metadata.num_delivered > 1]
        if not again:
            return deliveries
        try:
            done = await asyncio.to_thread(self.app.processed_among, [d.tracking for d in again])
        except Exception:  # the database is away: the handlers below wait it out
            return deliveries
        skipped = [d for d in again if d.tracking in done]
        for d in skipped:
            await self._ack(d.msg)
        return [d for d in deliveries if not any(d is s for s in skipped)]

    def _all_at_once(self, deliveries: list["Delivery"]) -> bool:
        def run() -> None:
            if self.sub.read_ahead is not None:
                self.sub.read_ahead([d.contract for d in deliveries])
            for d in deliveries:
                with self._span(d):
                    d.handler(d.envelope, d.contract, d.tracking)

        for attempt in range(self.BATCH_CONFLICTS):
            try:
                self.app.save_batch(run)
                return True
            except IntegrityError:
                # Another writer changed one of the batch's aggregates first (a replica, a
                # command, another consumer of this service): again, with fresh state. A
                # message processed before would fail the same way each time: one by one.
                if attempt == self.BATCH_CONFLICTS - 1 or self._any_processed(deliveries):
                    return False
            except Exception:  # handled again one by one, where each message gets its verdict
                return False  # (and where an outage is waited out)
        return False

    def _any_processed(self, deliveries: list["Delivery"]) -> bool:
        try:
            return bool(self.app.processed_among([d.tracking for d in deliveries]))
        except Exception:  # the database is away: one by one, where outages are waited out
            return True

    def read(self, msg: Any) -> tuple[CloudEvent, Contract, Handler, Tracking]:
        envelope = CloudEvent.from_bytes(msg.data)
        contract_type = contract_for_type(envelope.type)
        contract = contract_type.model_validate(envelope.data)
        handler = self.sub.handlers[contract_type]
        return envelope, contract, handler, tracking_for(envelope)

    def _span(self, d: "Delivery"):
        return self.tracer.start_as_current_span(
            f"{self.service}.DurableConsumer.handle", context=tracing.extract(d.msg.headers),
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "nats", "messaging.destination.name": d.msg.subject,
                        "messaging.message.id": d.envelope.id})

    async def handle(self, msg: Any) -> None:
        await self.handle_all([msg])

    async def handle_one(self, d: "Delivery") -> None:
        msg = d.msg
        with self._span(d):
            try:
                done = await through_outages(
                    lambda: self.run_handler(d.handler, d.envelope, d.contract, d.tracking),
                    lambda: self._in_hand, name=self.durable, max_wait=self.max_hold_wait)
            except Rejected as error:
                await self.reject(msg, str(error))
                return
            except IntegrityError:
                await self.retry(msg, "concurrent changes to the same aggregate")
                return
            except Exception as error:  # a handler bug, or a state that may yet change
                log.exception("%s: handling %s failed", self.durable, d.envelope.type)
                await self.retry(msg, repr(error))
                return
        await self._ack(msg)
        if done and self.metrics is not None:
            self.metrics.consumed.labels(self.sub.stream).inc()

    async def run_handler(self, handler: Handler, envelope: CloudEvent, contract: Contract,
                          tracking: Tracking, conflicts: int = 3) -> bool:
        """Run the handler; False when the message had already been processed. A version
        conflict (another replica changed the same aggregate) is retried at once with fresh
        state, so conflicts under load do not use up the message's deliveries."""
        for attempt in range(conflicts):
            try:
                await asyncio.to_thread(handler, envelope, contract, tracking)
                return True
            except IntegrityError:
                if await asyncio.to_thread(self.app.already_processed, tracking):
                    return False  # a redelivery of something already done
                if attempt == conflicts - 1:
                    raise
        return True

    async def _ack(self, msg: Any) -> None:
        await msg.ack()
        self._settled(msg)

    def _settled(self, msg: Any) -> None:
        if msg in self._in_hand:
            self._in_hand.remove(msg)

    async def retry(self, msg: Any, reason: str) -> None:
        if msg.metadata.num_delivered >= self.max_deliver:
            await self.reject(msg, f"gave up after {msg.metadata.num_delivered} attempts: {reason}")
        else:
            await msg.nak(delay=min(0.2 * 2 ** msg.metadata.num_delivered, 10))
            self._settled(msg)

    async def reject(self, msg: Any, reason: str) -> None:
        log.warning("%s: dead-lettering message %s: %s", self.durable, msg.metadata.sequence.stream, reason)
        await dead_letter(self.js, self.service, self.durable, msg, reason)
        await msg.term()
        self._settled(msg)
        if self.metrics is not None:
            self.metrics.dead_lettered.labels(self.durable).inc()
