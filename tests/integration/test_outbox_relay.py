"""The outbox relay against real PostgreSQL and nats-server: order, ids, crashes on either side
of the publish, and the trace context carried from the stored cause to the NATS headers."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

import nats
import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.bus.relay import OutboxRelay
from shared.bus.streams import ensure_streams
from shared.contracts import AlertRaised, CloudEvent
from shared.observability import ServiceMetrics
from shared.service import ServiceParts, ServiceRuntime
from shared.settings import ServiceSettings
from tests.integration.toy import (
    SERVICE, ToyApplication, eventually, head, open_app, stop, stream_count, stream_holds,
    stream_messages, to_contract,
)

pytestmark = pytest.mark.integration

RELAY = f"relay:{SERVICE}"
STREAM = "DETECTOR"  # AlertRaised is a detector contract


def start_relay(app: ToyApplication, js: Any) -> asyncio.Task:
    return asyncio.create_task(OutboxRelay(app, js, SERVICE, to_contract).run())


class DyingJetStream:
    """A JetStream context whose process dies on the n-th publish: the earlier publishes
    reached the server, none of their acks was awaited."""

    def __init__(self, js: Any, die_on: int) -> None:
        self.js, self.die_on, self.calls = js, die_on, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.js, name)

    async def publish_async(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.die_on:
            raise ConnectionError("relay died mid-batch")
        return await self.js.publish_async(*args, **kwargs)


async def ignore(error: Exception) -> None:
    """The doomed client's reconnect attempts are expected to fail."""


def increments(app: ToyApplication, counters: list[str]) -> None:
    for name in counters:
        app.increment(name)


async def test_events_saved_before_the_relay_starts_are_published_in_order(app, js):
    counters = ["a", "b", "a", "c", "a"]
    increments(app, counters)
    last = head(app)  # 3 Created (private) + 5 Incremented (public)
    assert last == 8

    relay = start_relay(app, js)
    try:
        await eventually(lambda: app.position(RELAY) == last, message="relay caught up")
    finally:
        await stop(relay)

    messages = await stream_messages(js, STREAM)
    envelopes = [CloudEvent.from_bytes(m.data) for m in messages]
    notifications = [n for n in app.recorder.select_notifications(1, 100)
                     if n.topic.endswith("Incremented")]
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [
        f"{SERVICE}:{n.id}" for n in notifications]
    assert [e.id for e in envelopes] == [m.headers["Nats-Msg-Id"] for m in messages]
    assert [e.type for e in envelopes] == [AlertRaised.type_name()] * 5
    assert [m.subject for m in messages] == [AlertRaised.type_name()] * 5
    # In log order: counter a's versions 2, 3, 4 appear in that order among the others.
    events = [app.decode(n) for n in notifications]
    assert [e.subject for e in envelopes] == [str(e.originator_id) for e in events]
    assert [e.data["alert_id"] for e in envelopes] == [
        f"{e.originator_id}:{e.originator_version}" for e in events]
    assert all(e.source == f"closedloop/{SERVICE}" for e in envelopes)


async def test_events_saved_while_the_relay_runs_are_published_and_the_position_follows(app, js):
    relay = start_relay(app, js)
    try:
        increments(app, ["x"])
        await eventually(lambda: app.position(RELAY) == head(app) == 2, message="first event out")
        increments(app, ["x", "y"])
        await eventually(lambda: app.position(RELAY) == head(app) == 5, message="next events out")
    finally:
        await stop(relay)
    assert await stream_count(js, STREAM) == 3


async def test_a_relay_that_dies_mid_batch_before_any_ack_publishes_each_event_once_on_restart(
        app, js):
    increments(app, [f"c{i}" for i in range(6)])  # 6 public events, log 1..12
    dying = DyingJetStream(js, die_on=4)
    first = start_relay(app, dying)
    await eventually(first.done, message="first relay died")
    assert isinstance(first.exception(), ConnectionError)
    # The three publishes before the crash reached the stream; the position did not move.
    await eventually(lambda: stream_holds(js, STREAM, 3), message="early publishes stored")
    assert app.position(RELAY) == 0

    restarted = start_relay(app, js)
    try:
        await eventually(lambda: app.position(RELAY) == head(app), message="restart caught up")
    finally:
        await stop(restarted)
    ids = [m.headers["Nats-Msg-Id"] for m in await stream_messages(js, STREAM)]
    assert len(ids) == 6 and len(set(ids)) == 6


async def test_a_relay_that_dies_after_the_acks_before_moving_its_position_republishes_harmlessly(
        app, js, monkeypatch):
    increments(app, [f"c{i}" for i in range(5)])
    real_advance = app.advance
    advanced: list[int] = []

    def dies_once(follower: str, notification_id: int) -> None:
        if not advanced:
            advanced.append(notification_id)
            raise ConnectionError("relay died before storing its position")
        real_advance(follower, notification_id)

    monkeypatch.setattr(app, "advance", dies_once)
    first = start_relay(app, js)
    await eventually(first.done, message="first relay died")
    assert isinstance(first.exception(), ConnectionError)
    assert app.position(RELAY) == 0
    assert await stream_count(js, STREAM) == 5  # every ack came back before the crash

    counting = DyingJetStream(js, die_on=-1)  # never dies; counts the republishes
    restarted = start_relay(app, counting)
    try:
        await eventually(lambda: app.position(RELAY) == head(app), message="restart caught up")
    finally:
        await stop(restarted)
    assert counting.calls == 5  # the whole batch went out again …
    assert await stream_count(js, STREAM) == 5  # … and JetStream dropped every copy


async def test_a_relay_killed_while_nats_is_down_publishes_once_after_both_come_back(
        app, nats_server):
    doomed = await nats.connect(nats_server.url, max_reconnect_attempts=-1,
                                reconnect_time_wait=0.1, error_cb=ignore)
    await ensure_streams(doomed.jetstream())
    increments(app, ["p", "q", "p"])

    nats_server.stop()
    await eventually(lambda: not doomed.is_connected, message="client lost the server")
    doomed_js = doomed.jetstream()
    first = start_relay(app, doomed_js)
    # The relay has handed every publish to the client, which cannot reach the server.
    await eventually(lambda: doomed_js.publish_async_pending() == 3, message="publishes pending")
    await stop(first)  # the process dies: its buffered publishes die with it
    with contextlib.suppress(ConnectionError):  # nats-py: closing while disconnected
        await doomed.close()
    assert app.position(RELAY) == 0

    nats_server.start()
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    restarted = start_relay(app, js)
    try:
        await eventually(lambda: app.position(RELAY) == head(app), message="restart caught up")
        ids = [m.headers["Nats-Msg-Id"] for m in await stream_messages(js, STREAM)]
    finally:
        await stop(restarted)
        await nc.close()
    assert len(ids) == 3 and len(set(ids)) == 3


async def test_a_publish_lost_when_nats_crashes_does_not_wedge_the_relay(database_url, nats_server):
    """A publish written to the socket of a server that then dies never gets an ack. The relay
    must give up on it and send it again; otherwise nothing is ever published again."""
    settings = ServiceSettings(service=SERVICE, database_url=database_url,
                               nats_url=nats_server.url)
    runtime = ServiceRuntime(settings, ServiceParts(
        application=lambda env, clock: ToyApplication(env, clock), translate=to_contract),
        ServiceMetrics(SERVICE))
    await runtime.start()
    try:
        app: ToyApplication = runtime.application
        await asyncio.to_thread(app.increment, "before")
        await eventually(lambda: app.position(RELAY) == 2, message="relay running")

        os.kill(nats_server.process.pid, signal.SIGSTOP)  # the server stops reading …
        await asyncio.to_thread(app.increment, "lost")
        await eventually(lambda: runtime.js.publish_async_pending() == 1
                         and runtime.nc.pending_data_size == 0,
                         message="publish written to the socket")
        nats_server.kill()  # … and dies with the publish unread in its socket buffer
        nats_server.start()
        await eventually(lambda: runtime.nc.is_connected, message="client reconnected")
        await asyncio.to_thread(app.increment, "after")

        js = runtime.js
        await eventually(lambda: app.position(RELAY) == head(app), timeout=30,
                         message="relay publishes again after the server came back")
        assert await stream_count(js, STREAM) == 3
    finally:
        await runtime.stop()


async def test_the_trace_context_stored_in_the_cause_arrives_as_the_traceparent_header(app, js):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /v1/counters") as request_span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
    origin = request_span.get_span_context()
    app.increment("traced", cause={"correlation_id": "req-1", "causation_id": "req-1",
                                   "trace": carrier})
    relay = OutboxRelay(app, js, SERVICE, to_contract)
    relay.tracer = provider.get_tracer("closedloop.relay")  # record the relay's spans here
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: app.position(RELAY) == head(app), message="relay caught up")
    finally:
        await stop(task)

    [message] = await stream_messages(js, STREAM)
    envelope = CloudEvent.from_bytes(message.data)
    assert envelope.correlationid == "req-1" and envelope.causationid == "req-1"
    _, trace_id, span_id, _ = message.headers["traceparent"].split("-")
    assert trace_id == format(origin.trace_id, "032x")
    [publish_span] = [s for s in exporter.get_finished_spans() if s.name.endswith("publish")]
    assert publish_span.context.trace_id == origin.trace_id
    assert publish_span.parent is not None and publish_span.parent.span_id == origin.span_id
    assert span_id == format(publish_span.context.span_id, "016x")  # the relay's span is the parent
    assert publish_span.attributes["messaging.message.id"] == envelope.id


async def test_starting_a_service_keeps_the_operators_stream_settings(js):
    """An operator who raised the duplicate window (or replicas, limits) keeps it across
    service restarts; services only create what is missing."""
    info = await js.stream_info(STREAM)
    config = info.config
    config.duplicate_window = 3600
    await js.update_stream(config)
    await ensure_streams(js)
    assert (await js.stream_info(STREAM)).config.duplicate_window == 3600


async def test_a_relay_that_keeps_failing_makes_the_service_report_degraded(
        database_url, nats_url, monkeypatch):
    """A relay that cannot store its position keeps failing: /readyz must say so."""
    settings = ServiceSettings(service=SERVICE, database_url=database_url, nats_url=nats_url)
    runtime = ServiceRuntime(settings, ServiceParts(
        application=lambda env, clock: ToyApplication(env, clock), translate=to_contract),
        ServiceMetrics(SERVICE))
    await runtime.start()
    try:
        def broken(*_: Any) -> None:
            raise RuntimeError("position store unavailable")

        monkeypatch.setattr(runtime.application, "advance", broken)
        await asyncio.to_thread(runtime.application.increment, "stuck")
        await eventually(lambda: "relay" in runtime.failing(), message="relay failure reported")
        assert "position store unavailable" in runtime.failing()["relay"]
        metrics = runtime.metrics.registry.get_sample_value(
            "closedloop_component_restarts_total", {"service": SERVICE, "component": "relay"})
        assert metrics and metrics >= 1
    finally:
        await runtime.stop()


async def test_an_event_the_relay_cannot_translate_is_dead_lettered_and_the_rest_flow(app, js):
    def translate(event):
        if getattr(event, "name", None) == "poison":  # the poison counter's creation
            raise ValueError("no contract for this shape")
        return to_contract(event)

    app.increment("poison")
    app.increment("fine")
    relay = OutboxRelay(app, js, SERVICE, translate)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: app.position(RELAY) == head(app), message="relay moved on")
    finally:
        await stop(task)
    [letter] = await stream_messages(js, "DLQ")
    assert "no contract for this shape" in letter.headers["Closedloop-Dlq-Reason"]
    assert await stream_count(js, STREAM) >= 1  # the good events were published

async def test_a_save_on_another_replica_wakes_this_relay_without_polling(database_url, nats_url):
    """The store NOTIFYs on every insert: with polling all but switched off, an event saved by
    another replica (another application on the same schema) is still published."""
    settings = ServiceSettings(service=SERVICE, database_url=database_url, nats_url=nats_url,
                               relay_poll_seconds=3600)
    runtime = ServiceRuntime(settings, ServiceParts(
        application=lambda env, clock: ToyApplication(env, clock), translate=to_contract),
        ServiceMetrics(SERVICE))
    await runtime.start()
    other_replica = open_app(database_url)
    try:
        await eventually(lambda: runtime.application.position(RELAY) == 0, message="relay ready")
        await asyncio.sleep(0.5)  # let the relay settle into its (hour-long) wait
        await asyncio.to_thread(other_replica.increment, "elsewhere")
        await eventually(lambda: runtime.application.position(RELAY) == head(other_replica),
                         message="relay woken by the other replica's save")
        assert await stream_count(runtime.js, STREAM) == 1
    finally:
        other_replica.close()
        await runtime.stop()


async def test_the_relay_keeps_one_position_row_however_many_batches_it_sends(app, js):
    relay = OutboxRelay(app, js, SERVICE, to_contract, batch=2)  # several small batches
    for i in range(7):
        app.increment(f"row-{i}")
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: app.position(RELAY) == head(app), message="relay caught up")
    finally:
        await stop(task)
    recorder = app.recorder
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(f'SELECT count(*) AS n FROM "{recorder.datastore.schema}".'
                     f'"{recorder.tracking_table_name}" WHERE application_name = %s', (RELAY,))
        assert curs.fetchone()["n"] == 1
