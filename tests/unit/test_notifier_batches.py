"""The notifier's storm paths: the configuration read once and checked by version, attempts
claimed and recorded many to a transaction (each delivery's guard still deciding), and first
attempts claimed with their scheduling and handed to the worker only once committed."""
from __future__ import annotations

from uuid import uuid4

import pytest
from cryptography.fernet import Fernet
from eventsourcing.persistence import OperationalError

from services.notifier.app import NotifierApplication
from services.notifier.attempts import Due, Reported
from services.notifier.channels import EgressPolicy, Outcome
from services.notifier.domain import ATTEMPT_LEASE, Delivery, DeliveryStatus, ErrorClass
from services.notifier.sealing import Sealer
from services.notifier.workers import OutcomeRecorder
from shared.clock import ManualClock
from shared.store import IntegrityError, Tracking
from tests.unit.test_notifier_domain import CAUSE, SEALER, T0, opened, seconds, setup_routing


@pytest.fixture
def app(store_env):
    return NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=EgressPolicy())


def schedule(app: NotifierApplication, *incidents: str) -> tuple[str, list]:
    oncall, _ = setup_routing(app)
    for seq, incident in enumerate(incidents, start=100):
        envelope, contract, _ = opened(incident, seq=seq)
        app.handle_incident_opened(envelope, contract, Tracking("INCIDENTS", seq))
    return oncall, [Delivery.create_id(i, "incident.opened", oncall) for i in incidents]


def status(app: NotifierApplication, delivery_id) -> DeliveryStatus:
    return app.repository.get(delivery_id).status


class Counting:
    """Wraps a callable and counts its calls."""

    def __init__(self, wrapped) -> None:
        self.wrapped, self.calls = wrapped, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.wrapped(*args, **kwargs)


def test_due_deliveries_are_claimed_together_and_one_already_claimed_is_left_out(app):
    _, (first, second, third) = schedule(app, "inc-b1", "inc-b2", "inc-b3")
    app.start_attempt(second, 1, T0)  # another replica got there first

    claimed = app.claim_attempts([Due(d, "pending", 0) for d in (first, second, third)], T0)

    assert [job.delivery_id for job in claimed] == [first, third]
    assert claimed[0].target.secret == "s3cret-s3cret-s3cret"
    assert claimed[0].notification.incident["incident_id"] == "inc-b1"
    assert all(status(app, d) is DeliveryStatus.SENDING for d in (first, second, third))


def test_an_attempt_whose_sender_never_reported_is_recorded_interrupted_in_the_batch(app):
    _, (lost, fresh) = schedule(app, "inc-b4", "inc-b5")
    app.start_attempt(lost, 1, T0)
    later = T0 + ATTEMPT_LEASE

    claimed = app.claim_attempts([Due(lost, "sending", 1), Due(fresh, "pending", 0)], later)

    assert [job.delivery_id for job in claimed] == [fresh]
    interrupted = app.repository.get(lost)
    assert interrupted.status is DeliveryStatus.RETRYING
    assert interrupted.last_error_class == ErrorClass.INTERRUPTED


def test_outcomes_are_recorded_together_and_one_refused_costs_no_other(app):
    _, (ok, failing, stray) = schedule(app, "inc-b6", "inc-b7", "inc-b8")
    app.claim_attempts([Due(d, "pending", 0) for d in (ok, failing)], T0)
    at = T0 + seconds(1)

    statuses = app.record_outcomes([
        Reported(ok, 1, Outcome.success(200), at),
        Reported(failing, 1, Outcome.failure("HTTP 503", ErrorClass.HTTP_STATUS,
                                             retryable=True, status_code=503), at),
        Reported(stray, 1, Outcome.success(200), at),  # never claimed: refused, left out
    ])

    assert statuses == {ok: "delivered", failing: "retrying"}
    assert status(app, stray) is DeliveryStatus.PENDING


class CountingSealer(Sealer):
    opened = 0

    def open(self, value: str) -> str:
        self.opened += 1
        return super().open(value)


def test_a_channel_secret_is_opened_once_per_change_not_per_send(store_env):
    sealer = CountingSealer(Fernet.generate_key().decode())
    app = NotifierApplication(store_env, ManualClock(T0), sealer=sealer, egress=EgressPolicy())
    oncall, deliveries = schedule(app, "inc-b9", "inc-b10", "inc-b11")

    app.claim_attempts([Due(deliveries[0], "pending", 0)], T0)
    app.claim_attempts([Due(deliveries[1], "pending", 0)], T0)
    assert sealer.opened == 1

    app.rotate_channel_secret(oncall, secret="n3w-s3cret-n3w-s3cret", grace_seconds=0,
                              actor="mgr", cause=CAUSE)
    [job] = app.claim_attempts([Due(deliveries[2], "pending", 0)], T0)
    assert job.target.secret == "n3w-s3cret-n3w-s3cret" and sealer.opened == 2


def test_a_consumer_batch_checks_the_configuration_and_quiet_rules_once(app):
    oncall, _ = setup_routing(app)
    app.reads.latest_versions = checks = Counting(app.reads.latest_versions)

    def batch() -> None:
        for seq in range(10, 15):
            envelope, contract, tracking = opened(f"inc-c{seq}", seq=seq)
            app.handle_incident_opened(envelope, contract, tracking)

    app.save_batch(batch)
    assert checks.calls == 2  # the channels and policies once, the routes and quiet rules once
    assert status(app, Delivery.create_id("inc-c14", "incident.opened", oncall)) is (
        DeliveryStatus.PENDING)


def test_a_redelivery_in_a_batch_conflicts_and_goes_through_when_tried_again(app):
    schedule(app, "inc-d1")
    head = app.recorder.max_notification_id()
    envelope, contract, _ = opened("inc-d1", seq=200)  # the same incident, a new message id

    def redelivered() -> None:
        app.handle_incident_opened(envelope, contract, Tracking("INCIDENTS", 200))

    with pytest.raises(IntegrityError):
        app.save_batch(redelivered)
    app.save_batch(redelivered)  # tried again (alone or as a batch): existence is asked

    assert app.recorder.max_notification_id() == head  # nothing scheduled twice


def test_a_first_attempt_is_claimed_with_its_scheduling_and_handed_over_once_committed(app):
    handed: list = []
    app.handoff.open(handed.extend, free=lambda: 10)
    oncall, _ = setup_routing(app)
    envelope, contract, tracking = opened("inc-h1", seq=300)
    again, same, _ = opened("inc-h1", seq=301)

    def conflicting_batch() -> None:  # the same incident twice: the batch cannot commit
        app.handle_incident_opened(envelope, contract, tracking)
        app.handle_incident_opened(again, same, Tracking("INCIDENTS", 301))

    with pytest.raises(IntegrityError):
        app.save_batch(conflicting_batch)
    assert handed == []  # nothing of a batch that did not commit is sent

    app.handle_incident_opened(envelope, contract, tracking)
    [job] = handed
    delivery_id = Delivery.create_id("inc-h1", "incident.opened", oncall)
    assert job.delivery_id == delivery_id and job.notification.attempt == 1
    assert status(app, delivery_id) is DeliveryStatus.SENDING


def test_without_room_in_the_worker_the_read_model_path_claims(app):
    handed: list = []
    app.handoff.open(handed.extend, free=lambda: 0)
    _, [delivery] = schedule(app, "inc-h2")
    assert handed == [] and status(app, delivery) is DeliveryStatus.PENDING


async def test_outcomes_are_recorded_once_the_database_is_back_reading_the_deliveries_again():
    class StoreAwayOnce:
        def __init__(self) -> None:
            self.calls: list[list] = []

        def record_outcomes(self, reports: list[Reported]) -> dict:
            self.calls.append([r.claimed for r in reports])
            if len(self.calls) == 1:
                raise OperationalError("the database is restarting")
            return {r.delivery_id: "delivered" for r in reports}

    store, report = StoreAwayOnce(), Reported(uuid4(), 1, Outcome.success(200), T0,
                                              claimed=object())
    recorder = OutcomeRecorder(store, set(), batch=10)
    assert await recorder.record([report]) == {report.delivery_id: "delivered"}
    # The failed save may have changed the claimed object: the retry reads the delivery.
    assert store.calls == [[report.claimed], [None]]
