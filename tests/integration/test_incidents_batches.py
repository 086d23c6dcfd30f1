"""The incidents consumer's batches against real NATS JetStream and PostgreSQL: a fetched batch
of alerts opens its incidents in one transaction with consecutive refs, a message processed
before sends its batch one by one without doubling anything or leaving a gap in the refs,
replicas never issue a ref twice, and refs survive a restart and a replay of the log."""
from __future__ import annotations

import asyncio
import collections
from datetime import datetime, timezone
from typing import Any

import asyncpg
import nats
import pytest
from nats.js.errors import NotFoundError

from shared.bus.consumer import DurableConsumer
from shared.clock import ManualClock
from shared.contracts import AlertRaised, CloudEvent
from shared.readmodels import ProjectionRunner, read_path
from shared.service import asyncpg_dsn
from shared.store import ensure_schema, eventsourcing_env
from tests.integration.toy import eventually, stop

from services.incidents.app import IncidentsApplication
from services.incidents.consumer import subscriptions
from services.incidents.domain import Incident
from services.incidents.projections import IncidentsProjection

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
SCHEMA = "incidents"


def open_incidents(database_url: str) -> IncidentsApplication:
    ensure_schema(database_url, SCHEMA)
    return IncidentsApplication(eventsourcing_env(database_url, SCHEMA), ManualClock(T0))


@pytest.fixture
def incidents(database_url):
    apps: list[IncidentsApplication] = []

    def replica() -> IncidentsApplication:
        apps.append(open_incidents(database_url))
        return apps[-1]

    yield replica
    for app in apps:
        app.close()


class Replicas:
    """Incidents consumers of the DETECTOR stream, each on its own NATS connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.running: list[tuple[asyncio.Task, Any]] = []

    async def start(self, app: IncidentsApplication) -> None:
        nc = await nats.connect(self.url)
        [detector] = [s for s in subscriptions(app) if s.stream == "DETECTOR"]
        consumer = DurableConsumer(app, nc.jetstream(), "incidents", detector)
        self.running.append((asyncio.create_task(consumer.run()), nc))

    async def stop(self) -> None:
        for task, nc in self.running:
            await stop(task)
            await nc.close()
        self.running.clear()


@pytest.fixture
async def replicas(nats_url):
    group = Replicas(nats_url)
    yield group
    await group.stop()


@pytest.fixture
def verdicts(monkeypatch):
    """Per fetched batch of two or more: True when it committed at once; and the stream
    sequences of the messages handled one by one."""
    log: dict[str, list] = {"at_once": [], "one_by_one": []}
    at_once, one = DurableConsumer._all_at_once, DurableConsumer.handle_one

    def spy_batch(self, deliveries):
        done = at_once(self, deliveries)
        log["at_once"].append(done)
        return done

    async def spy_one(self, delivery):
        log["one_by_one"].append(delivery.msg.metadata.sequence.stream)
        await one(self, delivery)

    monkeypatch.setattr(DurableConsumer, "_all_at_once", spy_batch)
    monkeypatch.setattr(DurableConsumer, "handle_one", spy_one)
    return log


def alert_envelope(n: int, *, fingerprint: str | None = None, severity: str = "P1",
                   msg_id: str | None = None) -> CloudEvent:
    contract = AlertRaised(
        alert_id=f"a-{n}", fingerprint=fingerprint or f"fp-{n}", source="rule",
        name="checkout_latency", entity=f"store-{n}", severity=severity, value=950.0,
        started_at=T0)
    return CloudEvent(id=msg_id or f"detector:{n}", source="closedloop/detector",
                      type=AlertRaised.type_name(), time=T0, data=contract.model_dump(mode="json"))


async def publish(js: Any, envelope: CloudEvent, *, dedup: bool = True) -> int:
    headers = {"Nats-Msg-Id": envelope.id} if dedup else None
    return (await js.publish(AlertRaised.type_name(), envelope.to_bytes(), headers=headers)).seq


async def settled(js: Any) -> bool:
    try:
        info = await js.consumer_info("DETECTOR", "incidents-detector")
    except NotFoundError:  # not created yet
        return False
    return info.num_pending == 0 and info.num_ack_pending == 0


async def no_pull_waiting(js: Any) -> bool:
    return (await js.consumer_info("DETECTOR", "incidents-detector")).num_waiting == 0


def opened(app: IncidentsApplication) -> dict[str, str]:
    """ref → incident id, as the log tells it (every Opened event carries its ref)."""
    found = {}
    for n in app.recorder.select_notifications(1, 10_000):
        event = app.decode(n)
        if isinstance(event, Incident.Opened):
            found[event.ref] = str(event.originator_id)
    return found


def refs_by_fingerprint(app: IncidentsApplication) -> dict[str, str]:
    return {app.incident(i)["fingerprint"]: ref for ref, i in opened(app).items()}


async def test_a_batch_of_alerts_of_one_severity_commits_once_with_consecutive_refs(
        incidents, replicas, js, verdicts):
    app = incidents()
    for n in range(1, 11):
        await publish(js, alert_envelope(n))
    await publish(js, alert_envelope(3, msg_id="detector:resent-3"))  # Alertmanager re-sends
    await publish(js, alert_envelope(11, fingerprint="fp-3"))  # fp-3 fires again
    await replicas.start(app)
    await eventually(lambda: settled(js), message="every alert acknowledged")

    # A fetch may hand over the first message alone; every batch of two or more went at once.
    assert all(verdicts["at_once"]) and len(verdicts["one_by_one"]) <= 1
    assert refs_by_fingerprint(app) == {f"fp-{n}": f"P1-2026-11-{n:03d}" for n in range(1, 11)}
    assert app.incident("P1-2026-11-003")["alert_ids"] == ["a-3", "a-11"]


async def test_a_message_processed_before_sends_its_batch_one_by_one_without_gaps(
        incidents, replicas, js, verdicts):
    app = incidents()
    first = alert_envelope(1)
    await publish(js, first)
    await replicas.start(app)
    await eventually(lambda: settled(js), message="the first alert handled")
    await replicas.stop()
    # Its last pull request must be gone, or what follows is delivered to the closed
    # connection and comes back only after ack_wait.
    await eventually(lambda: no_pull_waiting(js), message="the stopped consumer's pull expired")
    # The relay published event 1 again after JetStream's duplicate window: a new message with
    # an id already tracked, in one batch with new alerts (behind one: a fetch may hand over
    # its first message alone).
    await publish(js, alert_envelope(2))
    await publish(js, first, dedup=False)
    for n in range(3, 7):
        await publish(js, alert_envelope(n))
    await replicas.start(app)
    await eventually(lambda: settled(js), message="the batch acknowledged")

    assert False in verdicts["at_once"]  # the batch failed on the tracked id, wrote nothing …
    assert len(verdicts["one_by_one"]) >= 5  # … and went one by one
    # One incident per alert, and the refs the failed batch had numbered were not lost.
    assert sorted(opened(app)) == [f"P1-2026-11-{n:03d}" for n in range(1, 7)]
    assert app.incident("P1-2026-11-001")["alert_ids"] == ["a-1"]
    assert await js.stream_info("DLQ") and (await js.stream_info("DLQ")).state.messages == 0


async def test_replicas_never_issue_a_ref_twice_nor_skip_one(incidents, replicas, js):
    for n in range(1, 201):
        await publish(js, alert_envelope(n, severity="P2"))
    await replicas.start(incidents())
    await replicas.start(incidents())
    reader = incidents()
    await eventually(lambda: settled(js), timeout=60, message="every alert acknowledged")

    refs = opened(reader)
    assert sorted(refs) == [f"P2-2026-11-{n:03d}" for n in range(1, 201)]
    assert len(set(refs.values())) == 200  # one incident per ref, one ref per incident


async def test_refs_survive_a_restart_and_a_replay_of_the_log(
        incidents, replicas, js, database_url):
    app = incidents()
    for n in range(1, 6):
        await publish(js, alert_envelope(n, severity=("P0", "P1")[n % 2]))
    await replicas.start(app)
    await eventually(lambda: settled(js), message="every alert acknowledged")
    logged = opened(app)
    assert collections.Counter(ref[:2] for ref in logged) == {"P1": 3, "P0": 2}

    restarted = incidents()  # another process: refs resolve from the store, not from memory
    assert {ref: restarted.incident(ref)["id"] for ref in logged} == logged
    projection = IncidentsProjection()
    pool = await asyncpg.create_pool(asyncpg_dsn(database_url), min_size=1, max_size=2,
                                     server_settings={"search_path": read_path(SCHEMA, [projection])})
    try:
        await ProjectionRunner(restarted, pool, projection, service_schema=SCHEMA).rebuild()
        async with pool.acquire() as conn:
            rows = await conn.fetch("SELECT ref, id FROM incidents")
        assert {row["ref"]: str(row["id"]) for row in rows} == logged
    finally:
        await pool.close()
