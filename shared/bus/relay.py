"""The outbox relay: the only publisher. It follows the application's notification log and
publishes each translated event, advancing its stored position only after JetStream acks."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from shared.bus import tracing
from shared.bus.deadletter import dead_letter_event
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


class OutboxRelay:
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
        with LogFollower(self.app, poll_seconds=self.poll_seconds, batch=self.batch) as follower:
            async for batch in follower.batches(position):
                await self.publish_batch(batch)
                await asyncio.to_thread(self.app.advance, self.name, batch[-1][0].id)

    async def _publish(self, notification_id: int, event: Any, contract: Contract) -> asyncio.Future:
        envelope = envelope_for(self.service, notification_id, event, contract)
        parent = tracing.extract((getattr(event, "cause", None) or {}).get("trace"))
        with self.tracer.start_as_current_span(
            f"{self.service}.OutboxRelay.publish", context=parent, kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "nats", "messaging.destination.name": envelope.type,
                        "messaging.message.id": envelope.id},
        ):
            headers = tracing.inject({"Nats-Msg-Id": envelope.id,
                                      "Content-Type": "application/cloudevents+json"})
            return await self.js.publish_async(envelope.type, envelope.to_bytes(),
                                               headers=headers)

    async def publish_batch(self, batch: list[tuple[Any, Any]]) -> None:
        """Pipeline the publishes and wait for every ack; any failure raises before the
        position moves, so the batch is sent again (JetStream drops the duplicates by id)."""
        acks: list[asyncio.Future] = []
        try:
            for notification, event in batch:
                try:
                    contract = self.translate(event)
                except Exception as error:  # a bug or an old event shape: retrying cannot help
                    log.exception("%s: cannot translate notification %s", self.name, notification.id)
                    await dead_letter_event(self.js, self.service, notification,
                                            f"cannot translate {type(event).__name__}: {error!r}")
                    continue
                if contract is None:
                    continue
                acks.append(await self._publish(notification.id, event, contract))
            # nats-py never fails an unanswered ack by itself (a publish lost in a reconnect):
            # time out, so the supervisor restarts the relay from its stored position.
            if acks:
                await asyncio.wait_for(asyncio.gather(*acks), self.ack_timeout)
        finally:
            for ack in acks:  # free nats-py's pending-publish slots of a failed batch
                if not ack.done():
                    ack.cancel()
        if self.metrics is not None and acks:
            self.metrics.published.inc(len(acks))
