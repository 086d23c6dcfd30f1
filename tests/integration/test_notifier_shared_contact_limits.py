"""Per-person rate limits counted in the database: two notifier replicas on one store share
each person's window (neither can take the last slot the other took), and a replica started
afresh still folds what was held back before it."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from services.notifier.app import NotifierApplication
from services.notifier.attempts import Due
from services.notifier.channels import EgressPolicy
from services.notifier.contact_limits import ContactLimits, parse_limits
from services.notifier.domain import DeliveryStatus
from shared.clock import ManualClock
from tests.integration.test_applications_on_postgres import store_env  # noqa: F401
from tests.unit.test_notifier_channel_kinds import SMS, person_delivery, register
from tests.unit.test_notifier_domain import SEALER, T0, seconds

pytestmark = pytest.mark.integration


def replica(store_env) -> NotifierApplication:
    return NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=EgressPolicy(),
                               contact_limits=ContactLimits(parse_limits("sms=2/15m")))


def four_pages(app) -> list:
    channel = str(register(app, "pager", "sms", SMS)["id"])
    return [person_delivery(app, f"inc-{n}", channel).id for n in range(4)]


def test_two_replicas_send_two_texts_then_one_carrying_the_rest_after_a_restart(store_env):
    a, b = replica(store_env), replica(store_env)
    ids = four_pages(a)
    at = T0 + seconds(10)

    sent = [job.delivery_id for job in a.claim_attempts([Due(ids[0], "pending", 0)], at)]
    sent += [job.delivery_id for job in b.claim_attempts(
        [Due(d, "pending", 0) for d in ids[1:3]], at + seconds(1))]
    sent += [job.delivery_id for job in a.claim_attempts([Due(ids[3], "pending", 0)],
                                                           at + seconds(2))]

    assert sent == ids[:2]  # two texts across both replicas, not two each
    held = [a.repository.get(d) for d in ids[2:]]
    assert [h.status for h in held] == [DeliveryStatus.THROTTLED] * 2
    assert {h.next_attempt_at for h in held} == {at + timedelta(minutes=15)}

    a = replica(store_env)  # a restart: nothing of the window is in memory any more
    later = at + timedelta(minutes=15)
    [carrier] = a.claim_attempts([Due(d, "retrying", 0) for d in ids[2:]], later)

    assert carrier.delivery_id == ids[2]
    assert [f["ref"] for f in carrier.notification.folded] == ["P0-inc-3"]
    assert a.repository.get(ids[3]).status is DeliveryStatus.FOLDED
    assert str(ids[2]) in a.repository.get(ids[3]).last_error
    # What is left of the window: the sends in it, nothing of what was folded.
    datastore = a.recorder.datastore
    with datastore.transaction() as curs:
        curs.execute(f"SELECT delivery_id, state FROM {datastore.schema}.contact_sends ORDER BY at")
        assert [(r["delivery_id"], r["state"]) for r in curs.fetchall()] == [
            (str(ids[1]), "sent"), (str(ids[2]), "sent")]  # ids[0] left the window


def test_a_restart_in_the_middle_of_a_window_keeps_its_count(store_env):
    a = replica(store_env)
    ids = four_pages(a)
    at = T0 + seconds(10)
    assert len(a.claim_attempts([Due(d, "pending", 0) for d in ids[:2]], at)) == 2

    a = replica(store_env)
    assert a.claim_attempts([Due(d, "pending", 0) for d in ids[2:]], at + seconds(60)) == []
    assert {a.repository.get(d).status for d in ids[2:]} == {DeliveryStatus.THROTTLED}

    # The same attempt claimed again (a conflict, or the other replica) is not counted twice.
    b = replica(store_env)
    assert b.contact_limits.decide("sms", "+8613800000000", str(ids[0]), {},
                                   at + seconds(90)).send


def test_replicas_claiming_at_once_cannot_both_take_the_last_slot(store_env):
    a, b = replica(store_env), replica(store_env)
    ids = four_pages(a)
    at = T0 + seconds(10)
    start = threading.Barrier(2)
    sent: list = []

    def claim(app, mine):
        start.wait()
        for d in mine:  # one claim per transaction, interleaving with the other replica
            sent.extend(job.delivery_id for job in app.claim_attempts([Due(d, "pending", 0)],
                                                                       at))

    workers = [threading.Thread(target=claim, args=(a, ids[0::2])),
               threading.Thread(target=claim, args=(b, ids[1::2]))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(sent) == 2
    statuses = [a.repository.get(d).status for d in ids]
    assert statuses.count(DeliveryStatus.THROTTLED) == 2
