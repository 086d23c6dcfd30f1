"""The notifier's rules: deliveries (attempts, backoff, retryable or not, one claim per
attempt), escalations (fire once, never after an ack), and channel/policy definitions."""
from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet

from services.notifier.app import NotifierApplication
from services.notifier.domain import EscalationNotFound
from services.notifier.domain import (
    ATTEMPT_LEASE, AttemptRefused, Channel, Delivery, DeliveryStatus, Directory, EarlyStop,
    Escalation,
    EscalationNotDue, EscalationNotWaiting, EscalationPolicy, EscalationStatus, InvalidChannel,
    InvalidPolicy, NAMESPACE, OutcomeRefused, Reason, UnknownChannel, backoff,
)
from services.notifier.channels import EgressPolicy
from services.notifier.sealing import Sealer
from services.notifier.translate import to_contract
from shared.clock import ManualClock
from shared.contracts import (
    CloudEvent, EscalationTriggered, IncidentAcknowledged, IncidentOpened, NotificationDelivered,
    NotificationFailed,
)
from shared.store import IntegrityError, Tracking

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "msg-1", "trace": {}}
SECRET = "s3cret-s3cret-s3cret"
SEALER = Sealer(Fernet.generate_key().decode())


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def new_delivery(max_attempts: int = 5, reason: str = Reason.INCIDENT_OPENED) -> Delivery:
    return Delivery(incident_id="inc-1", ref="P0-2026-11-001", severity="P0", title="db down",
                    entity="db-1", occurred_at=T0, channel_id="ch-1", channel_name="oncall",
                    reason=str(reason), max_attempts=max_attempts, at=T0, actor="notifier",
                    cause=CAUSE)


def new_escalation(delay: float = 300) -> Escalation:
    return Escalation(incident_id="inc-1", ref="P0-2026-11-001", severity="P0", title="db down",
                      entity="db-1", opened_at=T0, due_at=T0 + seconds(delay),
                      escalate_to=[{"id": "ch-2", "name": "managers"}], policy_ids=["p-1"],
                      at=T0, actor="notifier", cause=CAUSE)


# Who the due step's targets resolved to (the application resolves them when it fires).
TOLD = [{"target": "channel:ch-2", "channel_id": "ch-2", "channel_name": "managers"}]


def event_names(aggregate) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


# -- Delivery ---------------------------------------------------------------------------------

def test_a_delivery_id_derives_from_incident_reason_and_channel():
    # A redelivered IncidentOpened reaches the delivery it created the first time.
    assert new_delivery().id == Delivery.create_id("inc-1", "incident.opened", "ch-1")
    assert new_delivery().id == uuid.uuid5(NAMESPACE, "inc-1:incident.opened:ch-1")
    assert new_delivery(reason=Reason.ESCALATION_STEP1).id != new_delivery().id


def test_a_delivery_is_claimed_then_delivered_on_the_first_attempt():
    delivery = new_delivery()
    assert delivery.status is DeliveryStatus.PENDING and delivery.next_attempt_at == T0

    delivery.start_attempt(1, T0, "worker", CAUSE)
    assert delivery.status is DeliveryStatus.SENDING and delivery.attempts == 1

    delivery.record_success(1, 204, T0 + seconds(0.2), "worker", CAUSE)
    assert delivery.status is DeliveryStatus.DELIVERED
    assert delivery.last_status_code == 204 and delivery.next_attempt_at is None
    assert event_names(delivery) == ["Scheduled", "AttemptStarted", "Delivered"]


def test_failed_attempts_back_off_exponentially_then_the_delivery_gives_up():
    delivery = new_delivery(max_attempts=5)
    at = T0
    waits = []
    for attempt in range(1, 6):
        delivery.start_attempt(attempt, at, "worker", CAUSE)
        delivery.record_failure(attempt, "the receiver answered HTTP 503", True, at, "worker",
                                CAUSE, status_code=503)
        if delivery.next_attempt_at is not None:
            waits.append((delivery.next_attempt_at - at).total_seconds())
            at = delivery.next_attempt_at
    # Waits of 1, 2, 4 and 8 s between five attempts, then it is failed for good.
    assert waits == [1, 2, 4, 8]
    assert delivery.status is DeliveryStatus.FAILED and delivery.attempts == 5
    events = delivery.collect_events()
    assert [type(e).__name__ for e in events].count("AttemptFailed") == 5
    assert type(events[-1]).__name__ == "Failed" and events[-1].attempts == 5
    assert "5 attempts made" in events[-1].error
    with pytest.raises(AttemptRefused, match="already failed"):
        delivery.start_attempt(6, at + seconds(60), "worker", CAUSE)


def test_backoff_doubles_from_one_second_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(30) == timedelta(minutes=5)


def test_a_client_error_is_not_retried():
    delivery = new_delivery()
    delivery.start_attempt(1, T0, "worker", CAUSE)
    delivery.record_failure(1, "the receiver answered HTTP 404", False, T0, "worker", CAUSE,
                            status_code=404)
    assert delivery.status is DeliveryStatus.FAILED and delivery.attempts == 1
    failed = delivery.collect_events()[-1]
    assert type(failed).__name__ == "Failed" and "not retryable" in failed.error


def test_an_attempt_cannot_be_claimed_twice():
    delivery = new_delivery()
    delivery.start_attempt(1, T0, "worker-a", CAUSE)
    with pytest.raises(AttemptRefused, match="attempt 1 was already started"):
        delivery.start_attempt(1, T0, "worker-b", CAUSE)
    with pytest.raises(AttemptRefused, match="attempt 1 is still in flight"):
        delivery.start_attempt(2, T0, "worker-b", CAUSE)


def test_a_retry_is_not_claimed_before_its_backoff_has_passed():
    delivery = new_delivery()
    delivery.start_attempt(1, T0, "worker", CAUSE)
    delivery.record_failure(1, "timeout", True, T0, "worker", CAUSE)
    with pytest.raises(AttemptRefused, match="not due before"):
        delivery.start_attempt(2, T0 + seconds(0.5), "worker", CAUSE)
    with pytest.raises(AttemptRefused, match="the next attempt is 2"):
        delivery.start_attempt(3, T0 + seconds(1), "worker", CAUSE)
    delivery.start_attempt(2, T0 + seconds(1), "worker", CAUSE)
    assert delivery.attempts == 2


def test_an_outcome_is_only_recorded_for_the_attempt_in_flight():
    delivery = new_delivery()
    with pytest.raises(OutcomeRefused, match="attempt 1"):
        delivery.record_success(1, 200, T0, "worker", CAUSE)
    delivery.start_attempt(1, T0, "worker", CAUSE)
    with pytest.raises(OutcomeRefused):
        delivery.record_failure(2, "late answer", True, T0, "worker", CAUSE)
    delivery.record_success(1, 200, T0, "worker", CAUSE)
    with pytest.raises(OutcomeRefused):  # a second outcome for the same attempt
        delivery.record_failure(1, "late answer", True, T0, "worker", CAUSE)


def test_an_attempt_whose_sender_vanished_is_recorded_as_interrupted_after_its_lease():
    delivery = new_delivery()
    delivery.start_attempt(1, T0, "worker-that-crashed", CAUSE)
    with pytest.raises(OutcomeRefused, match="may still report back"):
        delivery.record_interrupted(T0 + seconds(5), "worker", CAUSE)
    delivery.record_interrupted(T0 + ATTEMPT_LEASE, "worker", CAUSE)
    assert delivery.status is DeliveryStatus.RETRYING
    assert "interrupted" in delivery.last_error
    delivery.start_attempt(2, T0 + ATTEMPT_LEASE + seconds(1), "worker", CAUSE)


def test_delivered_and_failed_translate_to_public_contracts():
    ok = new_delivery()
    ok.start_attempt(1, T0, "worker", CAUSE)
    ok.record_success(1, 200, T0 + seconds(1), "worker", CAUSE)
    contract = to_contract(ok.collect_events()[-1])
    assert isinstance(contract, NotificationDelivered)
    assert (contract.notification_id, contract.incident_id, contract.ref, contract.channel_id,
            contract.channel_name, contract.reason, contract.attempts, contract.status_code) == (
        str(ok.id), "inc-1", "P0-2026-11-001", "ch-1", "oncall", "incident.opened", 1, 200)

    bad = new_delivery()
    bad.start_attempt(1, T0, "worker", CAUSE)
    bad.record_failure(1, "HTTP 410", False, T0, "worker", CAUSE, status_code=410)
    events = bad.collect_events()
    assert to_contract(events[-2]) is None  # the attempt itself stays private
    failed = to_contract(events[-1])
    assert isinstance(failed, NotificationFailed) and failed.attempts == 1


# -- Escalation -------------------------------------------------------------------------------

def test_an_escalation_fires_once_when_due():
    escalation = new_escalation(delay=300)
    escalation.escalate(TOLD, T0 + seconds(301), "timer", CAUSE)
    assert escalation.status is EscalationStatus.ESCALATED
    with pytest.raises(EscalationNotWaiting, match="P0-2026-11-001 cannot escalate"):
        escalation.escalate(TOLD, T0 + seconds(400), "other-replica", CAUSE)
    events = escalation.collect_events()
    assert [type(e).__name__ for e in events] == ["Started", "Escalated"]
    triggered = to_contract(events[-1])
    assert isinstance(triggered, EscalationTriggered)
    assert triggered.step == 1 and triggered.channel_ids == ["ch-2"]
    assert triggered.waited_seconds == 301


def test_an_escalation_refuses_to_fire_before_its_delay():
    escalation = new_escalation(delay=300)
    with pytest.raises(EscalationNotDue, match="cannot escalate before"):
        escalation.escalate(TOLD, T0 + seconds(299), "timer", CAUSE)
    assert escalation.status is EscalationStatus.WAITING


def test_an_acknowledged_incident_does_not_escalate():
    escalation = new_escalation()
    assert escalation.stop("acknowledged by ana", T0 + seconds(10), "ana", CAUSE) is True
    with pytest.raises(EscalationNotWaiting, match="already stopped"):
        escalation.escalate(TOLD, T0 + seconds(1000), "timer", CAUSE)
    # A second stop (e.g. resolved after acked) changes nothing.
    assert escalation.stop("resolved by ana", T0 + seconds(20), "ana", CAUSE) is False
    assert event_names(escalation) == ["Started", "Stopped"]


def test_an_ack_after_the_escalation_fired_is_a_no_op():
    escalation = new_escalation(delay=1)
    escalation.escalate(TOLD, T0 + seconds(2), "timer", CAUSE)
    assert escalation.stop("acknowledged by ana", T0 + seconds(3), "ana", CAUSE) is False
    assert escalation.status is EscalationStatus.ESCALATED
    assert event_names(escalation) == ["Started", "Escalated"]


# -- Channels, policies, directory ------------------------------------------------------------

def register(**changes) -> Channel:
    fields = {"name": "oncall", "kind": "webhook", "url": "https://hooks.example/oncall",
              "secret": SECRET, "headers": {"Authorization": "Bearer x"}}
    fields.update(changes)
    return Channel.register(**fields, seal=SEALER.seal, at=T0, actor="mgr", cause=CAUSE)


def define(**changes) -> EscalationPolicy:
    fields = {"name": "critical", "severities": ["P0", "P1"], "notify": ["ch-1"],
              "escalate_after_seconds": 300.0, "escalate_to": ["ch-2"]}
    fields.update(changes)
    return EscalationPolicy.define(**fields, at=T0, actor="mgr", cause=CAUSE)


def test_a_channel_keeps_its_secret_and_its_id_derives_from_its_name():
    channel = register()
    assert channel.id == Channel.create_id("oncall") and channel.has_secret


@pytest.mark.parametrize(("changes", "field"), [
    ({"url": "ftp://hooks.example/x"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"secret": "short"}, "secret"),
    ({"kind": "carrier-pigeon"}, "kind"),
    ({"headers": {"X-Closedloop-Signature": "forged"}}, "headers"),
    ({"name": "  "}, "name"),
])
def test_a_channel_definition_that_breaks_a_rule_is_refused(changes, field):
    with pytest.raises(InvalidChannel) as refused:
        register(**changes)
    assert refused.value.field == field


def test_a_policy_matches_only_its_severities():
    policy = define(severities=["P0", "P1"])
    assert policy.matches("P0") and policy.matches("P1")
    assert not policy.matches("P2")


@pytest.mark.parametrize(("changes", "field"), [
    ({"escalate_after_seconds": 0}, "escalate_after_seconds"),
    ({"escalate_after_seconds": -5}, "escalate_after_seconds"),
    ({"escalate_after_seconds": math.inf}, "escalate_after_seconds"),
    ({"severities": []}, "severities"),
    ({"severities": ["P9"]}, "severities"),
    ({"notify": []}, "notify"),
    ({"escalate_to": ["ch-2", "ch-2"]}, "escalate_to"),
])
def test_a_policy_definition_that_breaks_a_rule_is_refused(changes, field):
    with pytest.raises(InvalidPolicy) as refused:
        define(**changes)
    assert refused.value.field == field


def test_the_directory_lists_each_channel_and_policy_once():
    directory = Directory(at=T0, actor="mgr", cause=CAUSE)
    channel_id = uuid.uuid4()
    directory.list_channel(channel_id, T0, "mgr", CAUSE)
    directory.list_channel(channel_id, T0, "mgr", CAUSE)
    assert directory.channel_ids == [str(channel_id)]
    assert event_names(directory) == ["Opened", "ChannelListed"]


# -- The application over an in-memory store (no I/O) ----------------------------------------

@pytest.fixture
def app(store_env):
    return NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=EgressPolicy())


def opened(incident_id: str, severity: str = "P0", seq: int = 1):
    contract = IncidentOpened(
        incident_id=incident_id, ref=f"{severity}-2026-11-{seq:03d}", fingerprint="fp",
        severity=severity, title="db down", entity="db-1", alert_id="a-1", opened_at=T0,
        respond_by=T0 + seconds(900), resolve_by=T0 + seconds(3600))
    envelope = CloudEvent(id=f"incidents:{seq}", source="closedloop/incidents",
                          type=IncidentOpened.type_name(), time=T0,
                          data=contract.model_dump(mode="json"))
    return envelope, contract, Tracking("INCIDENTS", seq)


def setup_routing(app: NotifierApplication) -> tuple[str, str]:
    first = app.register_channel(name="oncall", kind="webhook", url="http://h/1", secret=SECRET,
                                 headers=None, actor="mgr", cause=CAUSE)["id"]
    second = app.register_channel(name="managers", kind="webhook", url="http://h/2",
                                  secret=SECRET, headers=None, actor="mgr", cause=CAUSE)["id"]
    app.define_policy(name="critical", severities=["P0"], notify=[str(first)],
                      escalate_after_seconds=60, escalate_to=[str(second)], actor="mgr",
                      cause=CAUSE)
    return str(first), str(second)


def test_a_policy_naming_an_unknown_channel_is_refused(app):
    with pytest.raises(UnknownChannel) as refused:
        app.define_policy(name="p", severities=["P0"], notify=[str(uuid.uuid4())],
                          escalate_after_seconds=60, escalate_to=[], actor="mgr", cause=CAUSE)
    assert refused.value.field == "notify"


def test_an_opened_incident_schedules_deliveries_and_a_timer_and_a_redelivery_adds_nothing(app):
    first, _ = setup_routing(app)
    envelope, contract, _ = opened("inc-7")
    app.handle_incident_opened(envelope, contract, Tracking("INCIDENTS", 1))
    delivery = app.delivery(Delivery.create_id("inc-7", "incident.opened", first))
    assert delivery["status"] == "pending" and delivery["channel_name"] == "oncall"
    escalation = app.repository.get(Escalation.create_id("inc-7"))
    assert escalation.due_at == T0 + seconds(60)

    head = app.recorder.max_notification_id()
    app.handle_incident_opened(envelope, contract, Tracking("INCIDENTS", 2))  # same payload
    assert app.recorder.max_notification_id() == head
    assert app.already_processed(Tracking("INCIDENTS", 2))


def test_an_incident_no_policy_covers_records_only_why_nobody_is_told(app):
    setup_routing(app)
    head = app.recorder.max_notification_id()
    envelope, contract, tracking = opened("inc-8", severity="P3")
    app.handle_incident_opened(envelope, contract, tracking)
    # One event: the opening (its labels fire for inhibition rules), no delivery, no timer.
    assert app.recorder.max_notification_id() == head + 1
    assert app.already_processed(tracking)
    [route] = app.opening("inc-8")["routes"]
    assert route["policies"] == [] and "no enabled policy covers severity 'P3'" in route["note"]


def test_two_replicas_claiming_the_same_attempt_collide_on_save(app):
    first, _ = setup_routing(app)
    app.handle_incident_opened(*opened("inc-9"))
    delivery_id = Delivery.create_id("inc-9", "incident.opened", first)
    replica_a, replica_b = app.repository.get(delivery_id), app.repository.get(delivery_id)
    replica_a.start_attempt(1, T0, "a", CAUSE)
    replica_b.start_attempt(1, T0, "b", CAUSE)  # b has not seen a's claim yet…
    app.save(replica_a)
    with pytest.raises(IntegrityError):  # …so the store refuses its save
        app.save(replica_b)
    with pytest.raises(AttemptRefused):  # and once it reloads, the guard refuses
        app.start_attempt(delivery_id, 1, T0)


def test_an_escalation_fires_once_and_schedules_its_messages_in_the_same_save(app):
    _, second = setup_routing(app)
    app.handle_incident_opened(*opened("inc-10"))
    with pytest.raises(EscalationNotDue):
        app.escalate("inc-10", T0 + seconds(30))
    scheduled = app.escalate("inc-10", T0 + seconds(61))
    assert scheduled == [str(Delivery.create_id("inc-10", "escalation.step1", second))]
    with pytest.raises(EscalationNotWaiting):
        app.escalate("inc-10", T0 + seconds(62))


def test_an_acknowledgement_stops_the_timer(app):
    setup_routing(app)
    app.handle_incident_opened(*opened("inc-11"))
    ack = IncidentAcknowledged(incident_id="inc-11", ref="P0-2026-11-001", by="ana", at=T0)
    envelope = CloudEvent(id="incidents:2", source="closedloop/incidents",
                          type=IncidentAcknowledged.type_name(), time=T0,
                          data=ack.model_dump(mode="json"))
    app.handle_incident_acknowledged(envelope, ack, Tracking("INCIDENTS", 2))
    with pytest.raises(EscalationNotWaiting, match="already stopped"):
        app.escalate("inc-11", T0 + seconds(120))


def test_an_acknowledgement_that_overtakes_the_opening_keeps_the_timer_from_starting(app):
    """Replicas and retries may reorder messages: the ack arrives first, the opening second."""
    setup_routing(app)
    ack = IncidentAcknowledged(incident_id="inc-12", ref="P0-2026-11-001", by="ana", at=T0)
    envelope = CloudEvent(id="incidents:3", source="closedloop/incidents",
                          type=IncidentAcknowledged.type_name(), time=T0,
                          data=ack.model_dump(mode="json"))
    app.handle_incident_acknowledged(envelope, ack, Tracking("INCIDENTS", 3))
    app.handle_incident_opened(*opened("inc-12", seq=4))
    assert isinstance(app.get_or_none(Escalation.create_id("inc-12")), EarlyStop)
    with pytest.raises(EscalationNotFound):
        app.escalate("inc-12", T0 + seconds(120))


def test_people_see_a_channel_url_without_its_token_bearing_path():
    from services.notifier.domain.channel import url_hint

    assert url_hint("https://oapi.dingtalk.com/robot/send?access_token=s3cret") == "https://oapi.dingtalk.com/…"
    assert url_hint("https://hooks.example.com") == "https://hooks.example.com"
