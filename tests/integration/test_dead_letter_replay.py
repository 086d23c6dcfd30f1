"""Dead letters a person can act on: a stored event too large to publish is dead-lettered by
reference and the relay moves on; `closedloop dlq` lists it and, once the cause is fixed,
publishes it again from the store. Consumer dead letters are replayed in bulk by filter."""
from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from closedloop.dlq import Selection, dlq_command
from shared.bus import deadletter
from shared.bus.consumer import DurableConsumer, Rejected, Subscription
from shared.bus.relay import OutboxRelay
from shared.contracts import AlertRaised, CloudEvent
from tests.integration.toy import (
    SERVICE, Counter, eventually, head, publish_alert, stop, stream_count,
    stream_messages, to_contract,
)

pytestmark = pytest.mark.integration

RELAY = f"relay:{SERVICE}"
STREAM = "DETECTOR"


class Translation:
    """The service's translate function, with a summary that can be far too large for NATS
    until a release trims it."""

    def __init__(self, huge: str) -> None:
        self.huge_id, self.trimmed = Counter.create_id(huge), False

    def __call__(self, event: Any):
        contract = to_contract(event)
        if contract is not None and event.originator_id == self.huge_id and not self.trimmed:
            return contract.model_copy(update={"summary": "x" * 2_000_000})  # > 1 MiB max_payload
        return contract


async def test_an_event_too_large_to_publish_is_dead_lettered_by_reference_and_the_rest_flow(
        app, js, nats_url, capsys):
    translate = Translation(huge="huge")
    for name in ("a", "huge", "b", "c"):  # 4 public events (each after a private Created)
        app.increment(name)
    relay = asyncio.create_task(OutboxRelay(app, js, SERVICE, translate).run())
    try:
        await eventually(lambda: app.position(RELAY) == head(app) == 8,
                         message="the relay moved past the oversized event")
    finally:
        await stop(relay)

    published = [CloudEvent.from_bytes(m.data) for m in await stream_messages(js, STREAM)]
    huge = next(n for n in app.recorder.select_notifications(1, 10)
                if n.topic.endswith("Incremented") and app.decode(n).originator_id == translate.huge_id)
    assert len(published) == 3 and f"{SERVICE}:{huge.id}" not in {e.id for e in published}
    [letter] = await stream_messages(js, "DLQ")
    reference = json.loads(letter.data)  # small: where the event is and why, not the event
    assert len(letter.data) < 1000
    assert reference["service"] == SERVICE and reference["notification_id"] == huge.id
    assert "max_payload" in reference["reason"]
    assert letter.headers[deadletter.CONSUMER] == RELAY
    assert letter.headers[deadletter.ORIGINAL_SEQUENCE] == str(huge.id)

    assert await dlq_command(nats_url, "list", Selection()) == 0
    listing = capsys.readouterr().out
    assert f"#{letter.seq}" in listing and f"notification {huge.id} of {SERVICE}'s store" in listing
    assert "max_payload" in listing

    @contextlib.asynccontextmanager
    async def relay_for(service: str, js: Any):
        assert service == SERVICE
        yield OutboxRelay(app, js, service, translate)

    # Still too large: the replay says so and the dead letter stays.
    assert await dlq_command(nats_url, "replay", Selection(consumer=RELAY), relay_for) == 1
    assert "NOT replayed" in capsys.readouterr().out
    translate.trimmed = True  # the release that trims summaries
    assert await dlq_command(nats_url, "replay", Selection(sequence=letter.seq), relay_for) == 0
    assert await stream_count(js, STREAM) == 4
    republished = CloudEvent.from_bytes((await stream_messages(js, STREAM))[-1].data)
    assert republished.id == f"{SERVICE}:{huge.id}"  # the id it would have had: dedup holds


async def test_a_relay_dead_letter_cannot_be_replayed_without_the_store(app, js, nats_url, capsys):
    await deadletter.dead_letter_event(js, SERVICE, 7, "toy:Counter.Incremented", "too large")
    assert await dlq_command(nats_url, "replay", Selection(consumer=RELAY)) == 1
    assert "set DATABASE_URL" in capsys.readouterr().out


async def test_dead_letters_are_replayed_in_bulk_by_consumer_subject_and_time(
        app, js, nats_url, capsys):
    refused: set[str] = {"bulk-1", "bulk-2", "bulk-3"}

    def poison(contract: AlertRaised, tracking: Any) -> None:
        if contract.alert_id in refused:
            raise Rejected(f"{contract.alert_id} refers to an unknown store")

    app.on_message = poison
    consumer = DurableConsumer(app, js, SERVICE, Subscription(
        stream=STREAM, handlers={AlertRaised: app.handle_alert_raised}))
    task = asyncio.create_task(consumer.run())
    try:
        for alert_id in sorted(refused):
            await publish_alert(js, alert_id)
        letters = await eventually(
            lambda: _when(stream_messages(js, "DLQ"), lambda ms: len(ms) == 3), message="3 dead letters")
        # Another consumer's dead letter, which this replay must leave alone.
        await deadletter.dead_letter_event(js, "other", 1, "other:Thing.Done", "bug")

        none_yet = datetime.now(timezone.utc) + timedelta(hours=1)
        assert await dlq_command(nats_url, "replay", Selection(since=none_yet)) == 0
        assert "no dead letters match" in capsys.readouterr().out

        refused.clear()  # the stores became known
        selection = Selection(consumer=f"{SERVICE}-detector", subject="closedloop.detector.>",
                              since=datetime.now(timezone.utc) - timedelta(hours=1),
                              until=datetime.now(timezone.utc) + timedelta(hours=1))
        assert await dlq_command(nats_url, "replay", selection) == 0
        out = capsys.readouterr().out
        assert all(f"dead letter #{m.seq} published again" in out for m in letters)
        await eventually(lambda: all(app.value(f"seen:bulk-{i}") == 1 for i in (1, 2, 3)),
                         message="every replayed message handled")
        # Replaying the same selection again changes nothing: each message id is tracked.
        assert await dlq_command(nats_url, "replay", selection) == 0
        await eventually(lambda: _when(js.consumer_info(STREAM, f"{SERVICE}-detector"),
                                       lambda i: i.num_pending == i.num_ack_pending == 0),
                         message="second replay acknowledged")
        assert app.value("tally") == 3
    finally:
        await stop(task)


async def _when(awaitable, predicate):
    value = await awaitable
    return value if predicate(value) else None


async def test_the_dlq_command_says_plainly_when_there_is_no_closedloop_bus(nats_url, capsys):
    from closedloop.embedded.ports import free_port

    # Nobody listens on a fresh port: one line naming the URL, no traceback, exit 1.
    nowhere = f"nats://127.0.0.1:{free_port()}"
    assert await dlq_command(nowhere, "list", Selection()) == 1
    assert f"cannot reach NATS at {nowhere}" in capsys.readouterr().out

    # A NATS server without closedloop's streams (someone else's, or not provisioned yet).
    assert await dlq_command(nats_url, "list", Selection()) == 1
    assert "has no DLQ stream" in capsys.readouterr().out
