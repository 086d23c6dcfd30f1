"""The outbox relay: the only publisher. It follows the application's notification log and
publishes each translated event, advancing its stored position only after JetStream acks. An
event that can never be published is dead-lettered by reference and the relay moves on."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import nats.errors
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from shared.bus import tracing
from shared.bus.deadletter import dead_letter_event
from shared.bus.faults import is_permanent_publish_error
from shared.bus.follower import LogFollower
from shared.contracts import CloudEvent, Contract
from shared.store import ServiceApplication

log = logging.getLogger(__name__)
Translate = Callable[[Any], Contract | None]


def translator(table: dict[type, Callable[[Any], Contract]]) -> Translate:
    """A translate function from a table of domain event class → contract builder; events
    not in the table stay private."""

    def to_contract(event: Any) -> Contract | None:
        build = table.get(type(event))
        return build(event) if build else None

    return to_contract


def envelope_for(service: str, notification_id: int, event: Any, contract: Contract) -> CloudEvent:
    cause = getattr(event, "cause", None) or {}
    message_id = f"{service}:{notification_id}"
    return CloudEvent(
        id=message_id,
        source=f"closedloop/{service}",
        type=contract.type_name(),
        time=event.timestamp,
        subject=str(event.originator_id),
        data=contract.model_dump(mode="json"),
        correlationid=cause.get("correlation_id") or message_id,
        causationid=cause.get("causation_id"),
    )


class PayloadTooLarge(nats.errors.MaxPayloadError):
    """Checked before handing the message to nats-py, whose own check fires after it has
    taken a pending-publish slot that is then never given back."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__()
        self.size, self.limit = size, limit

    def __str__(self) -> str:
        return f"{self.size} bytes is over the server's max_payload of {self.limit}"


class NotPublishable(Exception):
    """A notification a person asked to republish that has no public contract."""


class OutboxRelay:
    LAG_EVERY_SECONDS = 1.0  # how often the relay's lag is measured for /metrics while busy

    def __init__(self, app: ServiceApplication, js: Any, service: str, translate: Translate,
                 *, poll_seconds: float = 0.05, batch: int = 500, metrics: Any = None,
                 ack_timeout: float = 10.0) -> None:
        self.app, self.js, self.service, self.translate = app, js, service, translate
        self.ack_timeout = ack_timeout
        self.poll_seconds, self.batch, self.metrics = poll_seconds, batch, metrics
        self.name = f"relay:{service}"
        self.tracer = trace.get_tracer("closedloop.relay")

    async def run(self) -> None:
        position = await asyncio.to_thread(self.app.position, self.name)
        caught_up = None if self.metrics is None else lambda: self.metrics.observe_relay(0)
        loop, lag_at = asyncio.get_running_loop(), 0.0
        with LogFollower(self.app, poll_seconds=self.poll_seconds, batch=self.batch) as follower:
            async for batch in follower.batches(position, on_caught_up=caught_up):
                await self.publish_batch(batch)
                position = batch[-1][0].id
                await asyncio.to_thread(self.app.advance, self.name, position)
                # The lag costs a query: asked at most once a period, not after every batch
                # (a save made meanwhile waits for each round trip before it is published).
                if self.metrics is not None and loop.time() >= lag_at:
                    lag_at = loop.time() + self.LAG_EVERY_SECONDS
                    head = await asyncio.to_thread(self.app.recorder.max_notification_id)
                    self.metrics.observe_relay((head or 0) - position)

    async def republish(self, notification_id: int) -> str:
        """Publish one stored event again (a dead letter's replay, once its cause is fixed);
        returns the subject. Raises what stops it, e.g. the event is still too large."""
        found = await asyncio.to_thread(self.app.recorder.select_notifications, notification_id, 1)
        if not found or found[0].id != notification_id:
            raise NotPublishable(f"{self.service} has no notification {notification_id}")
        event = self.app.decode(found[0])
        contract = self.translate(event)
        if contract is None:
            raise NotPublishable(f"{self.service} notification {notification_id} "
                                 f"({type(event).__name__}) is private: it has no contract")
        ack = await self._publish(notification_id, event, contract)
        await asyncio.wait_for(ack, self.ack_timeout)
        return contract.type_name()

    def _max_payload(self) -> int | None:
        connection = getattr(self.js, "_nc", None)  # nats-py's JetStream context keeps its client
        return getattr(connection, "max_payload", None) or None

    async def _publish(self, notification_id: int, event: Any, contract: Contract) -> asyncio.Future:
        envelope = envelope_for(self.service, notification_id, event, contract)
        payload = envelope.to_bytes()
        limit = self._max_payload()
        if limit is not None and len(payload) > limit:
            raise PayloadTooLarge(len(payload), limit)
        parent = tracing.extract((getattr(event, "cause", None) or {}).get("trace"))
        with self.tracer.start_as_current_span(
            f"{self.service}.OutboxRelay.publish", context=parent, kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "nats", "messaging.destination.name": envelope.type,
                        "messaging.message.id": envelope.id},
        ):
            headers = tracing.inject({"Nats-Msg-Id": envelope.id,
                                      "Content-Type": "application/cloudevents+json"})
            return await self.js.publish_async(envelope.type, payload, headers=headers)

    async def publish_batch(self, batch: list[tuple[Any, Any]]) -> None:
        """Pipeline the publishes and wait for every ack. An event refused for itself (too
        large, a subject or message JetStream rejects) is dead-lettered and skipped; any other
        failure (NATS away, an ack timeout) raises before the position moves, so the batch is
        sent again (JetStream drops the duplicates by id)."""
        acks: list[tuple[Any, asyncio.Future]] = []
        try:
            for notification, event in batch:
                try:
                    contract = self.translate(event)
                except Exception as error:  # a bug or an old event shape: retrying cannot help
                    log.exception("%s: cannot translate notification %s", self.name, notification.id)
                    await self._dead_letter(notification,
                                            f"cannot translate {type(event).__name__}: {error!r}")
                    continue
                if contract is None:
                    continue
                try:
                    acks.append((notification, await self._publish(notification.id, event, contract)))
                except Exception as error:
                    if not is_permanent_publish_error(error):
                        raise
                    await self._dead_letter(notification, f"cannot publish {contract.type_name()}: "
                                                          f"{type(error).__name__}: {error}")
            # nats-py never fails an unanswered ack by itself (a publish lost in a reconnect):
            # time out, so the supervisor restarts the relay from its stored position.
            results = await asyncio.wait_for(
                asyncio.gather(*(ack for _, ack in acks), return_exceptions=True), self.ack_timeout)
        finally:
            for _, ack in acks:  # free nats-py's pending-publish slots of a failed batch
                if not ack.done():
                    ack.cancel()
        refused = [(n, r) for (n, _), r in zip(acks, results) if isinstance(r, BaseException)]
        for _, error in refused:
            if not is_permanent_publish_error(error):
                raise error  # the whole batch again, before any dead letter of this round
        for notification, error in refused:
            await self._dead_letter(notification, f"JetStream refused it: {type(error).__name__}: {error}")
        if self.metrics is not None and len(acks) > len(refused):
            self.metrics.published.inc(len(acks) - len(refused))

    async def _dead_letter(self, notification: Any, reason: str) -> None:
        log.error("%s: dead-lettering notification %s: %s", self.name, notification.id, reason)
        await dead_letter_event(self.js, self.service, notification.id, notification.topic, reason)
        if self.metrics is not None:
            self.metrics.dead_lettered.labels(self.name).inc()
