"""What the bus keeps and shows: tracking rows are forgotten once no stream can deliver their
message again, and /metrics tells relay lag, consumer backlog, redeliveries and dead letters."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from nats.aio.msg import Msg

from shared.bus.consumer import DurableConsumer, Rejected, Subscription
from shared.bus.relay import OutboxRelay
from shared.bus.tracking import TrackingPruner
from shared.clock import ManualClock
from shared.contracts import AlertRaised
from shared.observability import ServiceMetrics
from shared.store import Tracking
from tests.integration.toy import (
    SERVICE, ToyApplication, eventually, head, publish_alert, stop, to_contract,
)

pytestmark = pytest.mark.integration

STREAM = "DETECTOR"
DURABLE = f"{SERVICE}-detector"
THIRTY_DAYS = 30 * 24 * 3600


def age_rows(app: ToyApplication, names: list[str], days: int) -> None:
    """Pretend these rows were written `days` ago (the database's clock cannot be moved)."""
    recorder = app.recorder
    with recorder.datastore.transaction(commit=True) as curs:
        curs.execute(f'UPDATE "{recorder.datastore.schema}"."{recorder.tracking_table_name}" '
                     f"SET recorded_at = now() - make_interval(days => %s) "
                     f"WHERE application_name = ANY(%s)", (days, names))


async def test_tracking_rows_older_than_the_stream_keeps_messages_are_pruned_hourly(app):
    clock = ManualClock()
    pruner = TrackingPruner(app, clock)
    await pruner.start(THIRTY_DAYS)
    for n in (1, 2, 3):
        app.save_tracked(tracking=Tracking("detector", n))
    app.save_tracked(tracking=Tracking("capa", 9))
    app.advance("relay:toy", 5)  # a quiet relay's position: old, but its only row
    age_rows(app, ["detector", "relay:toy"], days=31)

    assert await pruner.maybe_prune() == 2  # detector 1 and 2; 3 is the newest of its name
    assert [app.already_processed(Tracking("detector", n)) for n in (1, 2, 3)] == [False, False, True]
    assert app.already_processed(Tracking("capa", 9))  # recent
    assert app.position("relay:toy") == 5

    app.save_tracked(tracking=Tracking("detector", 4))
    age_rows(app, ["detector"], days=31)
    assert await pruner.maybe_prune() == 0  # not again within the hour
    clock.advance(timedelta(hours=1))
    assert await pruner.maybe_prune() == 1


async def test_the_bus_reports_lag_backlog_redeliveries_and_dead_letters_on_metrics(app, js):
    metrics = ServiceMetrics(SERVICE)
    sample = metrics.registry.get_sample_value
    for i in range(3):
        app.increment(f"lag-{i}")
    relay = OutboxRelay(app, js, SERVICE, to_contract, batch=2, metrics=metrics)
    lags: list[float] = []
    observe = metrics.observe_relay
    metrics.observe_relay = lambda lag: (lags.append(lag), observe(lag))  # type: ignore[method-assign]
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: app.position(f"relay:{SERVICE}") == head(app) == 6,
                         message="relay caught up")
        await eventually(lambda: sample("closedloop_relay_lag", {"service": SERVICE}) == 0,
                         message="lag back to zero")
    finally:
        await stop(task)
    assert lags[0] == 4  # after the first batch of 2 out of 6

    naked: list[int] = []

    def refuse(contract: AlertRaised, tracking: Any) -> None:
        if contract.alert_id == "m-bad":
            raise Rejected("unknown store")

    app.on_message = refuse
    real_ack = Msg.ack

    async def lose_first_ack(msg: Msg) -> None:  # the first ack of m-again is lost once
        if not naked and msg.metadata.num_delivered == 1 and b"m-again" in msg.data:
            naked.append(msg.metadata.sequence.stream)
            await msg.nak()
            return
        await real_ack(msg)

    Msg.ack = lose_first_ack  # type: ignore[method-assign]
    await publish_alert(js, "m-bad")
    await publish_alert(js, "m-again")
    consumer = DurableConsumer(app, js, SERVICE, Subscription(
        stream=STREAM, handlers={AlertRaised: app.handle_alert_raised}), metrics=metrics)
    consumer.PENDING_EVERY_SECONDS = 0.05
    task = asyncio.create_task(consumer.run())
    try:
        labels = {"service": SERVICE, "consumer": DURABLE}
        await eventually(lambda: sample("closedloop_messages_redelivered_total", labels) == 1,
                         message="the redelivery counted")
        await eventually(lambda: sample("closedloop_messages_dead_lettered_total",
                                        {"service": SERVICE, "source": DURABLE}) == 1,
                         message="the dead letter counted")
        await eventually(lambda: sample("closedloop_consumer_pending", labels) == 0,
                         message="the backlog gauge refreshed")
    finally:
        Msg.ack = real_ack  # type: ignore[method-assign]
        await stop(task)
