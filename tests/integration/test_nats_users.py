"""The bus with a NATS user per service: each may publish only its own events, touch only its
own durables, read only its own replies; the admin replays dead letters; a running service
works with nothing more."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from typing import Any

import nats
import pytest
from nats.errors import TimeoutError as NatsTimeout

from closedloop.dlq import Selection, dlq_command
from closedloop.nats_users import ADMIN
from services.capa.main import create_app
from services.capa.settings import CapaSettings
from shared.bus.connection import connect_options
from shared.bus.deadletter import ORIGINAL_SUBJECT
from shared.contracts import CapaClosed, CapaOpened, CloudEvent, IncidentResolved
from tests.harness import API_KEYS, RunningService, wait_until

pytestmark = pytest.mark.integration

CLOSED = CapaClosed.type_name()
RESOLVED = IncidentResolved.type_name()


class Connection:
    """A connection as one user that records the server's permission errors."""

    def __init__(self, secured, user: str) -> None:
        self.secured, self.user = secured, user
        self.errors: list[str] = []

    async def __aenter__(self) -> Any:
        async def record(error: Exception) -> None:
            self.errors.append(str(error))

        self.nc = await nats.connect(**connect_options(self.secured.settings(self.user)),
                                     error_cb=record, allow_reconnect=False)
        return self

    async def __aexit__(self, *_: Any) -> None:
        await self.nc.close()

    def js(self) -> Any:
        return self.nc.jetstream(timeout=1)  # a denied request is never answered

    async def violation(self, subject: str) -> str:
        for _ in range(100):
            found = [e for e in self.errors
                     if "permissions violation" in e.lower() and subject.lower() in e.lower()]
            if found:
                return found[0]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no permissions violation for {subject}: {self.errors}")


def case_closed(case_id: str) -> bytes:
    return CloudEvent(id=f"forged:{case_id}", source="closedloop/capa", type=CLOSED,
                      time=datetime.now(timezone.utc), subject=case_id,
                      data={"case_id": case_id}).to_bytes()


async def test_the_notifier_cannot_forge_a_closed_capa_case(secured_nats):
    # Whoever holds the notifier's password tries to close an incident by faking capa.
    async with Connection(secured_nats, "notifier") as notifier:
        with pytest.raises(NatsTimeout):
            await notifier.js().publish(CLOSED, case_closed("forged"))
        assert "publish" in (await notifier.violation(CLOSED)).lower()
    async with Connection(secured_nats, ADMIN) as admin:
        assert (await admin.js().stream_info("CAPA")).state.messages == 0


async def test_the_capa_user_publishes_its_own_events(secured_nats):
    async with Connection(secured_nats, "capa") as capa:
        ack = await capa.js().publish(CLOSED, case_closed(str(uuid.uuid4())))
    assert ack.stream == "CAPA"
    assert capa.errors == []


async def test_a_service_cannot_manage_streams_or_take_another_services_consumer(secured_nats):
    async with Connection(secured_nats, "capa") as capa:
        await capa.js().publish(CLOSED, case_closed(str(uuid.uuid4())))
    async with Connection(secured_nats, "notifier") as notifier:
        js = notifier.js()
        attempts = {
            "$JS.API.STREAM.DELETE.CAPA": lambda: js.delete_stream("CAPA"),
            "$JS.API.STREAM.PURGE.CAPA": lambda: js.purge_stream("CAPA"),
            "$JS.API.STREAM.MSG.DELETE.CAPA": lambda: js.delete_msg("CAPA", 1),
            "$JS.API.STREAM.MSG.GET.CAPA": lambda: js.get_msg("CAPA", 1),
            # capa's own durable: the notifier may neither read it nor remove it.
            "$JS.API.CONSUMER.MSG.NEXT.INCIDENTS.capa-incidents": lambda: js._nc.request(
                "$JS.API.CONSUMER.MSG.NEXT.INCIDENTS.capa-incidents", b"1", timeout=1),
            "$JS.API.CONSUMER.DELETE.INCIDENTS.capa-incidents":
                lambda: js.delete_consumer("INCIDENTS", "capa-incidents"),
        }
        for subject, attempt in attempts.items():
            with pytest.raises(NatsTimeout):
                await attempt()
            await notifier.violation(subject)
    async with Connection(secured_nats, ADMIN) as admin:
        assert (await admin.js().stream_info("CAPA")).state.messages == 1


async def test_a_service_reads_neither_raw_subjects_nor_another_services_replies(secured_nats):
    async with Connection(secured_nats, "notifier") as notifier:
        # A core subscription would read capa's events live, bypassing JetStream.
        await notifier.nc.subscribe("closedloop.capa.>")
        await notifier.nc.subscribe("_INBOX.capa.>")
        await notifier.nc.flush()
        assert "subscription" in (await notifier.violation('"closedloop.capa.>"')).lower()
        await notifier.violation('"_INBOX.capa.>"')


async def test_a_connection_without_credentials_is_refused(secured_nats):
    with pytest.raises(Exception) as refused:
        await nats.connect(secured_nats.url, allow_reconnect=False, max_reconnect_attempts=0)
    assert "Authorization" in type(refused.value).__name__ + str(refused.value)


def test_capa_runs_with_its_own_user_and_the_admin_replays_its_dead_letter(
        secured_nats, database_url):
    capa_nats = secured_nats.settings("capa")
    service = RunningService(create_app(CapaSettings(
        database_url=database_url, api_keys=API_KEYS, nats_url=capa_nats.nats_url,
        nats_user="capa", nats_password=capa_nats.nats_password))).start()
    try:
        incident_id = str(uuid.uuid4())
        resolved = IncidentResolved(incident_id=incident_id, ref="P1-2026-001", severity="P1",
                                    title="checkout returns 5xx", entity="checkout", by="alice",
                                    summary="rolled back", at=datetime.now(timezone.utc))
        envelope = CloudEvent(id=f"incidents:{incident_id}", source="closedloop/incidents",
                              type=RESOLVED, time=resolved.at, subject=incident_id,
                              data=resolved.model_dump(mode="json"))

        async def as_incidents() -> None:
            async with Connection(secured_nats, "incidents") as incidents:
                await incidents.js().publish(RESOLVED, envelope.to_bytes())
                await incidents.js().publish(RESOLVED, b"not a cloud event")

        asyncio.run(as_incidents())

        async def stream(name: str) -> list[Any]:
            async with Connection(secured_nats, ADMIN) as admin:
                js = admin.js()
                state = (await js.stream_info(name)).state
                return [await js.get_msg(name, seq) for seq in
                        range(state.first_seq, state.last_seq + 1)] if state.messages else []

        # The consumer fetched and acked, the relay published capa's own event...
        opened = wait_until(lambda: [m for m in asyncio.run(stream("CAPA"))
                                     if CloudEvent.from_bytes(m.data).type == CapaOpened.type_name()],
                            30, "capa to open a case for the resolved incident")
        assert CloudEvent.from_bytes(opened[0].data).data["incident_id"] == incident_id
        # ...and the unreadable message went to capa's dead letters.
        [letter] = wait_until(lambda: asyncio.run(stream("DLQ")), 30, "a dead letter")
        assert letter.subject == f"closedloop.dlq.capa.{RESOLVED}"
        assert letter.headers[ORIGINAL_SUBJECT] == RESOLVED
        assert service.runtime.failing() == {}

        # Replaying publishes to the incidents' subject: the admin's job, not capa's.
        assert asyncio.run(dlq_command(secured_nats.settings(ADMIN), "replay",
                                       Selection(sequence=letter.seq))) == 0
        assert len(asyncio.run(stream("INCIDENTS"))) == 3
    finally:
        service.stop()
