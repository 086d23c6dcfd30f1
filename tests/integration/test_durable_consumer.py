"""Durable consumers against real PostgreSQL and nats-server: a crash between the commit and
the ack, lost acks and re-sends, poisoned messages, retries, and replaying a dead letter."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

import shared.bus.consumer as consumer_module
from shared.bus import deadletter
from shared.bus.consumer import DurableConsumer, Handler, Rejected, Subscription
from shared.bus.streams import ensure_streams
from shared.store import ensure_schema, eventsourcing_env
from shared.contracts import (
    AlertRaised,
    AlertResolved,
    CloudEvent,
    Contract,
    IncidentOpened,
)
from tests.integration.toy import (
    SERVICE,
    SUBJECT,
    TALLY,
    Counter,
    ToyApplication,
    alert_envelope,
    eventually,
    publish_alert,
    publish_raw,
    stop,
    stream_count,
    stream_messages,
)

pytestmark = pytest.mark.integration

STREAM = "DETECTOR"
DURABLE = f"{SERVICE}-detector"
DLQ_SUBJECT = f"closedloop.dlq.{SERVICE}.{SUBJECT}"


class Consumers:
    """Starts DurableConsumers, each on a connection of its own (a replica or a restart),
    and stops whatever is left at the end of the test."""

    def __init__(self, url: str, app: ToyApplication) -> None:
        self.url, self.app = url, app
        self.running: list[tuple[asyncio.Task, Any]] = []

    async def start(self, *, max_deliver: int = 5,
                    handlers: dict[type[Contract], Handler] | None = None) -> asyncio.Task:
        nc = await nats.connect(self.url)
        sub = Subscription(stream=STREAM, handlers=handlers or {
            AlertRaised: self.app.handle_alert_raised})
        consumer = DurableConsumer(self.app, nc.jetstream(), SERVICE, sub, max_deliver=max_deliver)
        task = asyncio.create_task(consumer.run())
        self.running.append((task, nc))
        return task

    async def kill(self, task: asyncio.Task) -> None:
        """The process dies: its task stops where it is and its connection goes away."""
        for running, nc in list(self.running):
            if running is task:
                await stop(task)
                await nc.close()
                self.running.remove((running, nc))

    async def close(self) -> None:
        for task, _ in list(self.running):
            await self.kill(task)


@pytest.fixture
async def consumers(nats_url, app):
    group = Consumers(nats_url, app)
    yield group
    await group.close()


@pytest.fixture
def quick_redelivery(monkeypatch):
    """The consumer's ack_wait is 30 s; a test cannot wait that long for a dead replica's
    messages to come back, so shorten it (everything else stays as configured)."""
    def config(**kwargs: Any) -> ConsumerConfig:
        return ConsumerConfig(**{**kwargs, "ack_wait": 1})

    monkeypatch.setattr(consumer_module, "ConsumerConfig", config)


def key(sequence: int) -> Any:
    """The tracking row of the message publish_alert put at this stream sequence."""
    return consumer_module.Tracking("upstream", sequence)


async def settled_for(js: Any, durable: str) -> bool:
    info = await js.consumer_info(STREAM, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def settled(js: Any) -> bool:
    """Nothing left to deliver and nothing delivered but unacknowledged."""
    info = await js.consumer_info(STREAM, DURABLE)
    return info.num_pending == 0 and info.num_ack_pending == 0


def seen(app: ToyApplication, alert_id: str) -> int:
    return app.value(f"seen:{alert_id}")


def sequences(app: ToyApplication) -> list[int]:
    return [seq for _, seq in app.handled]


async def test_a_consumer_killed_between_commit_and_ack_applies_every_message_exactly_once(
        app, js, consumers, quick_redelivery, monkeypatch):
    ids = [f"k{i}" for i in range(10)]
    for alert_id in ids:
        await publish_alert(js, alert_id)

    real_ack = Msg.ack
    killed = asyncio.Event()
    acked: dict[int, int] = {}  # stream sequence → the delivery that was acknowledged

    async def ack(msg: Msg) -> None:
        if not killed.is_set() and msg.metadata.sequence.stream == 4:
            killed.set()
            raise asyncio.CancelledError  # the process dies after the commit, before the ack
        await real_ack(msg)
        acked[msg.metadata.sequence.stream] = msg.metadata.num_delivered

    monkeypatch.setattr(Msg, "ack", ack)
    first = await consumers.start()
    await eventually(first.done, message="first consumer died")
    await consumers.kill(first)
    # Every message of the batch was committed, in one transaction, before the first ack:
    # 1-3 are acknowledged, 4 died in its ack, 5-10 were never acknowledged.
    assert app.value(TALLY) == 10
    assert all(app.already_processed(key(seq)) for seq in range(1, 11))
    assert sorted(acked) == [1, 2, 3]

    await consumers.start()
    await eventually(lambda: settled(js), message="every message acknowledged")
    assert app.value(TALLY) == 10  # one increment per message, none twice
    assert all(seen(app, alert_id) == 1 for alert_id in ids)
    assert len(app.stored_events(Counter.create_id(TALLY))) == 1 + 10
    # 4-10 came back and were recognised by their tracking rows, without running again.
    assert all(acked[seq] >= 2 for seq in range(4, 11))
    assert sorted(sequences(app)) == list(range(1, 11))
    assert await stream_count(js, "DLQ") == 0


async def test_a_lost_ack_and_a_re_send_do_not_apply_anything_twice(
        app, js, consumers, monkeypatch):
    first_seq = await publish_alert(js, "r1")
    resent_seq = await publish_alert(js, "r1")  # same content, another message id
    assert resent_seq == first_seq + 1  # a new message for JetStream: not deduplicated

    real_ack = Msg.ack
    lost: list[int] = []
    redelivered_acks: list[int] = []

    async def ack(msg: Msg) -> None:
        if msg.metadata.sequence.stream == first_seq and not lost:
            lost.append(first_seq)
            await msg.nak()  # the ack never arrived: JetStream delivers the same sequence again
            return
        await real_ack(msg)
        if msg.metadata.num_delivered > 1:
            redelivered_acks.append(msg.metadata.sequence.stream)

    monkeypatch.setattr(Msg, "ack", ack)
    await consumers.start()
    await eventually(lambda: settled(js) if redelivered_acks else False,
                     message="redelivery recognised and everything acknowledged")
    assert lost == [first_seq] and redelivered_acks == [first_seq]
    # Each stream sequence was applied once (the tally), and the re-sent content once (seen):
    # the redelivery was recognised by its tracking row before any handler ran.
    assert app.value(TALLY) == 2
    assert seen(app, "r1") == 1
    assert sorted(sequences(app)) == [first_seq, resent_seq]
    assert app.already_processed(key(first_seq))
    assert await stream_count(js, "DLQ") == 0


async def test_malformed_messages_go_to_the_dead_letter_stream_and_the_consumer_keeps_going(
        app, js, consumers):
    good = alert_envelope("m-good-1")
    unknown = good.model_copy(update={"id": "bad-type",
                                      "type": "closedloop.detector.alert.bogus.v1"})
    invalid = good.model_copy(update={"id": "bad-data", "data": {"alert_id": "m-bad"}})
    incident = IncidentOpened(
        incident_id="i-1", ref="P2-2026-11-001", fingerprint="fp", severity="P2", title="t",
        entity="store-1", alert_id="a-1", opened_at=good.time, respond_by=good.time,
        resolve_by=good.time)
    unhandled = good.model_copy(update={  # a valid contract this consumer has no handler for
        "id": "not-mine", "type": IncidentOpened.type_name(),
        "data": incident.model_dump(mode="json")})
    await publish_alert(js, "m-good-1")
    poisoned = {
        await publish_raw(js, b"{not json", "bad-json"): "not json",
        await publish_raw(js, unknown.to_bytes(), "bad-type"): "unknown type",
        await publish_raw(js, invalid.to_bytes(), "bad-data"): "fails validation",
        await publish_raw(js, unhandled.to_bytes(), "not-mine"): "no handler",
    }
    await publish_alert(js, "m-good-2")

    task = await consumers.start()
    await eventually(lambda: stream_count(js, "DLQ"), message="dead letters")
    await eventually(lambda: settled(js), message="every message acknowledged or terminated")
    assert app.value(TALLY) == 2 and seen(app, "m-good-1") == seen(app, "m-good-2") == 1
    assert not task.done()

    letters = await stream_messages(js, "DLQ")
    assert sorted(int(m.headers[deadletter.ORIGINAL_SEQUENCE]) for m in letters) == sorted(poisoned)
    originals = {m.seq: m for m in await stream_messages(js, STREAM)}
    for letter in letters:
        sequence = int(letter.headers[deadletter.ORIGINAL_SEQUENCE])
        assert letter.subject == DLQ_SUBJECT, poisoned[sequence]
        assert letter.data == originals[sequence].data  # the body, byte for byte
        reason = letter.headers[deadletter.REASON]
        assert reason.startswith("unreadable message"), (poisoned[sequence], reason)
        assert letter.headers[deadletter.ORIGINAL_SUBJECT] == SUBJECT
        assert letter.headers[deadletter.ORIGINAL_STREAM] == STREAM
        assert letter.headers[deadletter.CONSUMER] == DURABLE
    # Nothing poisoned reached the handler.
    assert sorted(set(sequences(app))) == sorted(set(originals) - set(poisoned))


async def test_a_transient_failure_is_retried_until_it_succeeds(app, js, consumers):
    failures: list[int] = []

    def flaky(contract: AlertRaised, tracking: Any) -> None:
        if contract.alert_id == "t-flaky" and not failures:
            failures.append(tracking.notification_id)
            raise ConnectionError("database briefly unreachable")

    app.on_message = flaky
    flaky_seq = await publish_alert(js, "t-flaky")
    await publish_alert(js, "t-next")
    await consumers.start()
    await eventually(lambda: settled(js) if seen(app, "t-flaky") else False,
                     message="flaky message eventually handled")
    assert failures == [flaky_seq]
    assert sequences(app).count(flaky_seq) == 2  # failed once, then applied
    assert app.value(TALLY) == 2 and seen(app, "t-next") == 1
    assert await stream_count(js, "DLQ") == 0


async def test_a_handler_that_always_fails_ends_in_the_dead_letter_stream_after_max_deliver(
        app, js, consumers):
    def broken(contract: AlertRaised, tracking: Any) -> None:
        if contract.alert_id == "f-broken":
            raise RuntimeError("bug in the handler")

    app.on_message = broken
    broken_seq = await publish_alert(js, "f-broken")
    await publish_alert(js, "f-next")
    task = await consumers.start(max_deliver=2)
    [letter] = await eventually(lambda: stream_messages(js, "DLQ"), message="dead letter")
    assert int(letter.headers[deadletter.ORIGINAL_SEQUENCE]) == broken_seq
    assert letter.headers[deadletter.REASON].startswith("gave up after 2 attempts")
    assert "bug in the handler" in letter.headers[deadletter.REASON]
    await eventually(lambda: settled(js), message="the rest acknowledged")
    # Delivered twice (the reason says so); the handler may also have run in a batch attempt
    # that was rolled back.
    assert sequences(app).count(broken_seq) >= 2
    assert seen(app, "f-broken") == 0 and seen(app, "f-next") == 1
    assert not task.done()


async def test_a_batch_of_independent_messages_commits_at_once(app, js, consumers, monkeypatch):
    """Messages that touch different aggregates are saved in one transaction with all their
    tracking rows; nothing is handled one by one."""
    app.count_tally = False
    one_by_one: list[int] = []
    real = consumer_module.DurableConsumer.handle_one

    async def spy(self, delivery):
        one_by_one.append(delivery.tracking.notification_id)
        await real(self, delivery)

    monkeypatch.setattr(consumer_module.DurableConsumer, "handle_one", spy)
    for i in range(20):
        await publish_alert(js, f"b{i}")
    await consumers.start()
    await eventually(lambda: all(seen(app, f"b{i}") == 1 for i in range(20)),
                     message="every message handled")
    await eventually(lambda: settled(js), message="every message acknowledged")
    assert all(app.already_processed(key(seq)) for seq in range(1, 21))
    # A fetch may hand over the first message alone (it then goes the single-message way);
    # every batch of two or more went in at once.
    assert len(one_by_one) <= 1


async def test_a_replayed_dead_letter_is_processed(app, js, consumers, database_url):
    def poison(contract: AlertRaised, tracking: Any) -> None:
        if contract.alert_id == "d-poison":
            raise Rejected("rule 42 does not exist")

    # Another service reads the same subject and handled the message the first time.
    ensure_schema(database_url, "other")
    other = ToyApplication(eventsourcing_env(database_url, "other"))
    other_consumer = asyncio.create_task(DurableConsumer(
        other, js, "other", Subscription(stream=STREAM, handlers={
            AlertRaised: other.handle_alert_raised})).run())

    app.on_message = poison
    original_seq = await publish_alert(js, "d-poison")
    await consumers.start()
    [letter] = await eventually(lambda: stream_messages(js, "DLQ"), message="dead letter")
    assert letter.headers[deadletter.REASON] == "rule 42 does not exist"
    assert seen(app, "d-poison") == 0

    app.on_message = None  # the missing rule was created; put the message back
    await deadletter.replay(js, letter)
    await eventually(lambda: seen(app, "d-poison"), message="replayed message processed")
    await eventually(lambda: settled(js), message="replay acknowledged")
    messages = await stream_messages(js, STREAM)
    assert [m.seq for m in messages] == [original_seq, original_seq + 1]
    replayed = messages[-1]
    assert replayed.subject == SUBJECT and replayed.data == messages[0].data
    assert {h: v for h, v in (replayed.headers or {}).items() if h.startswith("Closedloop-")} \
        == {deadletter.REPLAY_FOR: DURABLE}
    assert json.loads(replayed.data)["id"] == f"upstream:{original_seq}"
    assert app.value(TALLY) == 1 and await stream_count(js, "DLQ") == 1
    # The other service skipped the replay addressed to this consumer.
    await eventually(lambda: settled_for(js, "other-detector"), message="other consumer idle")
    assert [seq for _, seq in other.handled] == [original_seq]
    await stop(other_consumer)
    other.close()


async def test_a_contract_added_to_a_subscription_is_delivered_after_a_restart(
        app, js, consumers):
    first = await consumers.start()  # release 1 handles AlertRaised only
    await publish_alert(js, "v-1")
    await eventually(lambda: seen(app, "v-1"), message="release 1 running")
    await consumers.kill(first)

    resolved: list[str] = []

    def handle_resolved(envelope: CloudEvent, contract: AlertResolved, tracking: Any) -> None:
        resolved.append(contract.alert_id)
        app.save_tracked(tracking=tracking)

    await consumers.start(handlers={AlertRaised: app.handle_alert_raised,
                                    AlertResolved: handle_resolved})  # release 2
    payload = AlertResolved(alert_id="v-1", fingerprint="fp-v-1", entity="store-1",
                            resolved_at=alert_envelope("v-1").time)
    envelope = CloudEvent(id="upstream:v-1:resolved", source="closedloop/upstream",
                          type=AlertResolved.type_name(), time=payload.resolved_at,
                          data=payload.model_dump(mode="json"))
    await publish_raw(js, envelope.to_bytes(), envelope.id, subject=AlertResolved.type_name())
    await eventually(lambda: resolved, timeout=10, message="release 2 receives AlertResolved")
    assert resolved == ["v-1"]


def test_a_message_counts_as_processed_only_when_its_own_tracking_row_exists(app):
    """Out of order: message 11 saved first must not make message 10 look done (a version
    conflict on 10 would otherwise be acknowledged and its effect lost)."""
    app.save_tracked(tracking=consumer_module.Tracking(STREAM, 11))
    assert app.already_processed(consumer_module.Tracking(STREAM, 11))
    assert not app.already_processed(consumer_module.Tracking(STREAM, 10))
    assert not app.already_processed(consumer_module.Tracking("INCIDENTS", 11))


async def test_a_stream_created_again_neither_hides_new_messages_nor_repeats_old_ones(
        app, js, consumers):
    """Sequences restart at 1 in a recreated stream, message ids do not: the producer's next
    event is new, and an old event the relay sends again is recognised by its id."""
    await publish_alert(js, "before", msg_id="upstream:1")
    task = await consumers.start()
    await eventually(lambda: seen(app, "before") == 1, message="first message handled")
    await consumers.kill(task)
    await js.delete_stream(STREAM)
    await ensure_streams(js)
    assert await publish_alert(js, "before", msg_id="upstream:1") == 1  # republished, sequence 1
    assert await publish_alert(js, "after", msg_id="upstream:2") == 2  # the next event
    await consumers.start()
    await eventually(lambda: seen(app, "after") == 1, message="the new message handled")
    await eventually(lambda: settled(js), message="both acknowledged")
    assert app.value(TALLY) == 2  # "before" counted once, across both incarnations


async def test_an_event_republished_after_the_duplicate_window_is_handled_once(
        app, js, consumers):
    """A relay that had its acks but could not store its position for longer than the stream's
    duplicate window publishes the same events again: JetStream stores them under new
    sequences, and the consumer recognises them by their message id."""
    envelope = alert_envelope("late", msg_id="upstream:41")
    first = await publish_raw(js, envelope.to_bytes(), envelope.id)
    # Past the window the server no longer remembers the id; published without it here, the
    # stream stores a second copy exactly as it would then.
    second = (await js.publish(SUBJECT, envelope.to_bytes())).seq
    assert second == first + 1 and await stream_count(js, STREAM) == 2
    await consumers.start()
    await eventually(lambda: seen(app, "late"), message="first copy handled")
    await eventually(lambda: settled(js), message="both copies acknowledged")
    assert app.value(TALLY) == 1 and seen(app, "late") == 1
    assert app.already_processed(key(41))
    assert await stream_count(js, "DLQ") == 0


async def test_a_person_lists_dead_letters_and_replays_one_with_the_cli(
        app, js, consumers, nats_url, capsys):
    from closedloop.dlq import Selection, dlq_command

    def poison(contract: AlertRaised, tracking: Any) -> None:
        if contract.alert_id == "cli-poison" and not replayed:
            raise Rejected("store-042 is not known yet")

    replayed: list[bool] = []
    app.on_message = poison
    await publish_alert(js, "cli-poison")
    await consumers.start()
    [letter] = await eventually(lambda: stream_messages(js, "DLQ"), message="dead letter")

    assert await dlq_command(nats_url, "list", Selection()) == 0
    listing = capsys.readouterr().out
    assert f"#{letter.seq}" in listing and "store-042 is not known yet" in listing

    replayed.append(True)  # the cause is fixed; the message can go through now
    assert await dlq_command(nats_url, "replay", Selection(sequence=letter.seq)) == 0
    await eventually(lambda: seen(app, "cli-poison") == 1, message="replayed message handled")
