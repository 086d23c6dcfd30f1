"""An incident awaiting its requester holds its chases in the running notifier. A P0 on
深圳宝安店 is paused five minutes after opening; the clock runs past its old warning and
deadline while nobody's chase row is due; on the resumption the respond chase moves to the
new deadline and its Responsible is warned at 80 % of the moved time. Real NATS and
PostgreSQL; the clock is a ManualClock shared with the notifier."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from shared.contracts import IncidentSlaPaused, IncidentSlaResumed
from tests.harness import wait_until
from tests.integration.test_notifier_raci import deadline, store_network, told
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, incident_opened, notifier, publish, receiver,
)

pytestmark = pytest.mark.integration


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_paused_incident_is_chased_at_its_moved_deadline_not_the_old_one(
        notifier, receiver, nats_url, clock):
    store_network(notifier, receiver)  # P0: R 运营专家 + 店长, A 战区负责人
    incident = incident_opened(clock).model_copy(update={"entity": "store-017"})
    iid, ref, opened_at = incident.incident_id, incident.ref, clock.now()
    publish(nats_url, incident)
    wait_until(lambda: deadline(notifier, iid, "respond"), WAIT, "the incident's deadlines")

    clock.advance(timedelta(minutes=5))
    publish(nats_url, IncidentSlaPaused(incident_id=iid, ref=ref, reason="请提供收银机日志",
                                        by="li.na", at=clock.now()))
    wait_until(lambda: deadline(notifier, iid, "respond")["next_at"] is None, WAIT,
               "the respond chase held")
    clock.advance(timedelta(minutes=20))  # past the old warning (12 min) and deadline (15)
    resumed_at = clock.now()
    publish(nats_url, IncidentSlaResumed(
        incident_id=iid, ref=ref, by="li.na", paused_since=opened_at + timedelta(minutes=5),
        paused_seconds=20 * 60.0, at=resumed_at,
        deadlines={"respond": opened_at + timedelta(minutes=35),
                   "resolve": opened_at + timedelta(hours=4, minutes=20)}))
    wait_until(lambda: deadline(notifier, iid, "respond")["next_at"] is not None, WAIT,
               "the respond chase released")
    respond = deadline(notifier, iid, "respond")
    assert respond["fired"] == [] and respond["next_phase"] == "warning"
    assert at(respond["due_at"]) == opened_at + timedelta(minutes=35)
    assert at(respond["next_at"]) == opened_at + timedelta(minutes=32)
    assert at(deadline(notifier, iid, "resolve")["due_at"]) == \
        opened_at + timedelta(hours=4, minutes=20)
    assert told(receiver, iid, "late.") == []  # nothing fired while it was held

    clock.advance(timedelta(minutes=7))  # the moved warning
    wait_until(lambda: told(receiver, iid, "late.respond.warning"), WAIT, "the warning")
    assert deadline(notifier, iid, "respond")["fired"] == ["warning"]
