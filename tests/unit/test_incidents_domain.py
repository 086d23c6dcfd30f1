"""Incidents: the rules of an incident's life (pure aggregates) and the deduplication of alerts
into incidents (the application on in-memory persistence, no I/O)."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from shared.bus.consumer import Rejected
from shared.clock import ManualClock
from shared.contracts import (
    AlertRaised, AlertResolved, CapaActionAdded, CapaActionCompleted, CapaActionVerified,
    CapaClosed, CapaOpened, CapaRootCauseRecorded, CloudEvent,
    Contract, EscalationTriggered, IncidentAcknowledged, IncidentClosed, IncidentOpened,
    IncidentResolved, IncidentRoleAssigned, IncidentStageEntered, NotificationDelivered,
)
from shared.store import Tracking

from services.incidents.app import AlertNotRaisedYet, IncidentsApplication
from services.incidents.domain import (
    SLA, AlreadyAcknowledged, AlreadyResolved, FingerprintLink, Incident, IncidentFinished,
    IncidentNotFound, NotClosed, RaciRole, RefCounter, RefIndex, Severity, Status, format_ref,
)
from services.incidents.timeline import timeline_of
from services.incidents.translate import to_contract

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "msg-1", "trace": {}}


def open_incident(severity: Severity = Severity.P0, ref: str = "P0-2026-11-001",
                  alert_id: str = "a-1") -> Incident:
    return Incident.open(
        fingerprint="fp-checkout", occurrence=1, ref=ref, severity=severity,
        title="checkout_latency on store-42", entity="store-42",
        alert={"alert_id": alert_id, "name": "checkout_latency", "value": 950.0,
               "threshold": 800.0, "summary": "p99 latency above 800 ms"},
        at=T0, actor="detector", cause=CAUSE)


def names(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


# -- opening and SLA ------------------------------------------------------------------------
@pytest.mark.parametrize("severity, respond, resolve", [
    (Severity.P0, timedelta(minutes=5), timedelta(hours=4)),
    (Severity.P1, timedelta(minutes=15), timedelta(hours=24)),
    (Severity.P2, timedelta(hours=1), timedelta(hours=72)),
    (Severity.P3, timedelta(hours=4), timedelta(days=7)),
])
def test_an_incident_opens_new_with_its_severitys_sla_clocks(severity, respond, resolve):
    incident = open_incident(severity)
    assert (SLA[severity].respond, SLA[severity].resolve) == (respond, resolve)
    assert incident.respond_by == T0 + respond and incident.resolve_by == T0 + resolve
    assert incident.status is Status.NEW and incident.status.label == "新建"
    assert incident.severity is severity
    assert incident.id == Incident.create_id("fp-checkout", 1)


def test_refs_name_severity_month_and_a_three_digit_sequence():
    assert format_ref(Severity.P0, T0, 1) == "P0-2026-11-001"
    assert format_ref(Severity.P3, datetime(2027, 1, 31, tzinfo=timezone.utc), 42) == "P3-2027-01-042"


def test_every_status_has_a_chinese_label():
    assert [s.label for s in Status] == ["新建", "调查中", "方案制定中", "执行中", "验证中", "观察中",
                                         "已闭环", "已归档"]


# -- alerts -----------------------------------------------------------------------------------
def test_the_same_alert_sent_again_stores_nothing_but_a_new_firing_is_attached():
    incident = open_incident()
    incident.collect_events()
    incident.record_alert({"alert_id": "a-1", "name": "checkout_latency"}, T0, "detector", CAUSE)
    assert incident.collect_events() == []
    incident.record_alert({"alert_id": "a-2", "name": "checkout_latency"}, T0, "detector", CAUSE)
    assert names(incident.collect_events()) == ["AlertAttached"]
    assert incident.alert_ids == ["a-1", "a-2"]


def test_an_alert_clearing_is_noted_once_and_does_not_resolve_the_incident():
    incident = open_incident()
    incident.collect_events()
    for _ in range(2):
        incident.record_alert_cleared("a-1", 120.0, T0, T0, "detector", CAUSE)
    incident.record_alert_cleared("not-ours", None, T0, T0, "detector", CAUSE)
    assert names(incident.collect_events()) == ["AlertCleared"]
    assert incident.resolved_at is None and incident.accepts_alerts


# -- people -----------------------------------------------------------------------------------
def test_acknowledging_starts_the_investigation_and_cannot_happen_twice():
    incident = open_incident()
    incident.acknowledge("alice", "looking", T0 + timedelta(minutes=2), "alice", CAUSE)
    assert incident.status is Status.INVESTIGATING and incident.status.label == "调查中"
    assert incident.acknowledged_by == "alice"
    with pytest.raises(AlreadyAcknowledged, match=r"incident P0-2026-11-001 cannot be "
                                                  r"acknowledged twice: alice"):
        incident.acknowledge("bob", "", T0, "bob", CAUSE)


def test_resolving_an_unacknowledged_incident_records_both_and_moves_to_planning():
    incident = open_incident()
    incident.collect_events()
    incident.resolve("alice", "restarted the pool", T0 + timedelta(minutes=30), "alice", CAUSE)
    events = incident.collect_events()
    assert names(events) == ["Acknowledged", "RoleAssigned", "Resolved"]
    assert events[2].summary == "restarted the pool" and events[2].status == "planning"
    assert incident.status is Status.PLANNING and incident.acknowledged_by == "alice"
    assert not incident.accepts_alerts
    with pytest.raises(AlreadyResolved, match="P0-2026-11-001 cannot be resolved twice"):
        incident.resolve("bob", "again", T0, "bob", CAUSE)


def test_resolving_an_acknowledged_incident_records_only_the_resolution():
    incident = open_incident()
    incident.acknowledge("alice", "", T0, "alice", CAUSE)
    incident.collect_events()
    incident.resolve("bob", "failover", T0, "bob", CAUSE)
    assert names(incident.collect_events()) == ["Resolved"]
    assert incident.acknowledged_by == "alice" and incident.resolved_by == "bob"


def test_only_a_closed_incident_can_be_archived():
    incident = open_incident()
    with pytest.raises(NotClosed, match=r"P0-2026-11-001 cannot be archived: .* it is new \(新建\)"):
        incident.archive(T0, "manager", CAUSE)


# -- the CAPA case carries the incident to closure -----------------------------------------------
def closed_incident() -> Incident:
    incident = open_incident()
    incident.resolve("alice", "restarted", T0, "alice", CAUSE)
    incident.record_capa_opened("capa-1", "checkout latency", T0, "capa", CAUSE)
    incident.record_action_verified("capa-1", "A-1", "corrective", "bob", "carol", T0, "carol", CAUSE)
    incident.close("capa-1", "connection pool too small", 2, T0, "capa", CAUSE)
    return incident


def test_the_capa_case_moves_the_incident_through_planning_verifying_and_closed():
    incident = open_incident()
    incident.resolve("alice", "restarted", T0, "alice", CAUSE)
    incident.record_capa_opened("capa-1", "checkout latency", T0, "capa", CAUSE)
    assert incident.status is Status.PLANNING and incident.capa_id == "capa-1"
    incident.record_action_verified("capa-1", "A-1", "corrective", "bob", "carol", T0, "carol", CAUSE)
    assert incident.status is Status.VERIFYING and incident.status.label == "验证中"
    incident.collect_events()
    incident.close("capa-1", "connection pool too small", 2, T0, "capa", CAUSE)
    assert names(incident.collect_events()) == ["Closed"]
    assert incident.status is Status.CLOSED and incident.root_cause == "connection pool too small"
    incident.archive(T0, "manager", CAUSE)
    assert incident.status is Status.ARCHIVED and incident.status.label == "已归档"


def test_people_cannot_change_a_closed_incident():
    incident = open_incident()
    incident.record_capa_opened("capa-1", "t", T0, "capa", CAUSE)
    incident.close("capa-1", "cause", 1, T0, "capa", CAUSE)
    with pytest.raises(IncidentFinished, match=r"P0-2026-11-001 cannot be acknowledged: it is "
                                               r"already closed \(已闭环\)"):
        incident.acknowledge("alice", "", T0, "alice", CAUSE)
    with pytest.raises(IncidentFinished, match="cannot be resolved"):
        incident.resolve("alice", "late", T0, "alice", CAUSE)


def test_facts_from_other_services_never_move_the_status_backwards():
    incident = open_incident()
    incident.record_action_verified("capa-1", "A-1", "corrective", "bob", "carol", T0, "carol", CAUSE)
    incident.record_capa_opened("capa-1", "late message", T0, "capa", CAUSE)
    assert incident.status is Status.VERIFYING


def test_facts_sent_again_are_recorded_once():
    incident = closed_incident()
    incident.collect_events()
    incident.record_action_verified("capa-1", "A-1", "corrective", "bob", "carol", T0, "carol", CAUSE)
    incident.close("capa-1", "connection pool too small", 2, T0, "capa", CAUSE)
    assert incident.collect_events() == []

    incident = open_incident()
    incident.collect_events()
    delivered = {"notification_id": "n-1", "channel_name": "store-ops", "reason": "incident.opened",
                 "attempts": 1, "status_code": 200}
    for _ in range(2):
        incident.record_notification("delivered", delivered, T0, "notifier", CAUSE)
        incident.record_escalation(1, ["oncall"], 300.0, T0, "notifier", CAUSE)
        incident.record_capa_opened("capa-1", "t", T0, "capa", CAUSE)
    incident.record_notification("failed", {**delivered, "error": "timeout"}, T0, "notifier", CAUSE)
    assert names(incident.collect_events()) == [
        "NotificationDelivered", "Escalated", "CapaOpened", "NotificationFailed"]


# -- numbering and dedup aggregates ----------------------------------------------------------------
def test_a_ref_counter_issues_consecutive_numbers_per_severity_and_month():
    counter = RefCounter(severity="P0", month="2026-11", at=T0, actor="detector", cause=CAUSE)
    counter.issue(T0, "detector", CAUSE)
    counter.issue(T0, "detector", CAUSE)
    assert counter.last == 2
    assert counter.id == RefCounter.create_id("P0", "2026-11") != RefCounter.create_id("P1", "2026-11")


def test_a_fingerprint_link_counts_occurrences_and_remembers_the_latest_incident():
    link = FingerprintLink(fingerprint="fp", at=T0, actor="detector", cause=CAUSE)
    first, second = uuid.uuid4(), uuid.uuid4()
    link.link(first, T0, "detector", CAUSE)
    link.link(second, T0, "detector", CAUSE)
    assert (link.occurrences, link.current_incident_id) == (2, second)
    assert RefIndex.create_id("P0-2026-11-001") != RefIndex.create_id("P0-2026-11-002")


# -- the story a person reads ------------------------------------------------------------------------
def test_the_timeline_tells_who_did_what_and_why_in_order():
    incident = open_incident()
    incident.record_notification("delivered", {
        "notification_id": "n-1", "channel_name": "store-ops", "reason": "incident.opened",
        "attempts": 1, "status_code": 200}, T0, "notifier", CAUSE)
    incident.record_escalation(1, ["oncall-lead"], 300.0, T0 + timedelta(minutes=5), "notifier", CAUSE)
    incident.acknowledge("alice", "on it", T0 + timedelta(minutes=7), "alice", CAUSE)
    incident.resolve("alice", "grew the pool", T0 + timedelta(hours=1), "alice", CAUSE)
    incident.record_capa_opened("capa-1", "checkout latency", T0, "capa", CAUSE)
    incident.record_action_verified("capa-1", "A-1", "corrective", "bob", "carol", T0, "carol", CAUSE)
    incident.close("capa-1", "connection pool too small", 2, T0, "capa", CAUSE)
    incident.archive(T0, "manager", CAUSE)

    timeline = timeline_of(incident.collect_events())

    assert [e["action"] for e in timeline] == [
        "opened", "notification delivered", "escalated", "acknowledged", "role assigned",
        "resolved", "CAPA opened", "action verified", "closed", "archived"]
    detail = {e["action"]: e["detail"] for e in timeline}
    assert detail["role assigned"] == "alice is responsible (负责) for P0-2026-11-001: took it on"
    assert "P0 incident P0-2026-11-001 opened from alert 'checkout_latency' on store-42" in detail["opened"]
    assert "respond by 2026-11-02 09:05 UTC" in detail["opened"]
    assert detail["notification delivered"] == (
        "notified channel 'store-ops' (incident.opened), attempt 1, HTTP 200")
    assert detail["escalated"] == ("no acknowledgement after 5 min: escalation step 1 "
                                   "notifies 'oncall-lead'")
    assert "alice acknowledged P0-2026-11-001: on it (2 min past the response SLA)" == detail["acknowledged"]
    assert "grew the pool" in detail["resolved"] and "within the resolution SLA" in detail["resolved"]
    assert detail["action verified"] == ("corrective action A-1 owned by bob verified by carol "
                                         "(CAPA capa-1)")
    assert "root cause 'connection pool too small' and 2 actions verified" in detail["closed"]
    assert timeline[7]["actor"] == "carol"
    assert timeline[0]["cause"] == {"correlation_id": "corr-1", "causation_id": "msg-1"}


# -- what crosses NATS --------------------------------------------------------------------------------
def test_the_resolution_tells_capa_how_often_the_incidents_rule_evaluates():
    incident = Incident.open(
        fingerprint="fp-checkout", occurrence=1, ref="P0-2026-11-002", severity=Severity.P0,
        title="checkout_latency on store-42", entity="store-42",
        alert={"alert_id": "a-1", "name": "checkout_latency", "interval_seconds": 3600.0},
        at=T0, actor="detector", cause=CAUSE)
    incident.resolve("alice", "fixed", T0, "alice", CAUSE)
    (resolved,) = [c for c in map(to_contract, incident.collect_events())
                   if isinstance(c, IncidentResolved)]
    assert resolved.interval_seconds == 3600.0
    # An alert that named no interval (Alertmanager, an older detector): unknown, not zero.
    unknown = open_incident()
    unknown.resolve("alice", "fixed", T0, "alice", CAUSE)
    (resolved,) = [c for c in map(to_contract, unknown.collect_events())
                   if isinstance(c, IncidentResolved)]
    assert resolved.interval_seconds is None


def test_the_lifecycle_and_the_time_boxed_stages_become_public_contracts():
    incident = open_incident()
    incident.record_alert({"alert_id": "a-2"}, T0, "detector", CAUSE)
    incident.resolve("alice", "fixed", T0, "alice", CAUSE)
    incident.record_capa_opened("capa-1", "t", T0, "capa", CAUSE)
    incident.close("capa-1", "cause", 1, T0, "capa", CAUSE)
    contracts = [c for c in map(to_contract, incident.collect_events()) if c is not None]
    assert [type(c) for c in contracts] == [IncidentOpened, IncidentAcknowledged,
                                            IncidentRoleAssigned, IncidentResolved,
                                            IncidentStageEntered, IncidentClosed]
    opened, _, taken, resolved, planning, closed = contracts
    # Who resolves an incident nobody acknowledged took it on: the notifier follows, and
    # does not tell them what they just did.
    assert (taken.role, taken.person, taken.via) == ("responsible", "alice", "acknowledged")
    assert taken.ref == opened.ref
    assert (opened.ref, opened.alert_id, opened.severity) == ("P0-2026-11-001", "a-1", "P0")
    assert opened.respond_by == T0 + timedelta(minutes=5)
    assert (resolved.by, resolved.summary, resolved.entity) == ("alice", "fixed", "store-42")
    assert resolved.status == "planning" and planning.stage == "planning"
    assert (closed.incident_id, closed.capa_id) == (str(incident.id), "capa-1")


def test_each_capa_step_says_the_time_boxed_stage_it_leaves_the_incident_in():
    incident = open_incident()
    incident.record_capa_step("added:A-1", "action planned", {}, Status.EXECUTING, T0, "capa",
                              CAUSE)
    incident.record_capa_step("completed:A-1", "action completed", {}, Status.VERIFYING,
                              T0 + timedelta(hours=1), "capa", CAUSE)
    stages = [c for c in map(to_contract, incident.collect_events())
              if isinstance(c, IncidentStageEntered)]
    assert [(c.stage, c.at, c.incident_id) for c in stages] == [
        ("executing", T0, str(incident.id)), ("verifying", T0 + timedelta(hours=1),
                                              str(incident.id))]


# -- the application: alerts deduplicated into incidents (in-memory store; the same stories run
# against PostgreSQL in tests/integration/test_applications_on_postgres.py) -----------------------
@pytest.fixture
def feed(store_env):
    return Feed(store_env)


class Feed:
    """Delivers contracts to the application the way the consumer does."""

    def __init__(self, env: dict[str, str]) -> None:
        self.clock = ManualClock(T0)
        self.app = IncidentsApplication(env, self.clock)
        self.sequence = 0

    def send(self, handler, contract: Contract) -> Tracking:
        self.sequence += 1
        envelope = CloudEvent(id=f"m-{self.sequence}", source=f"closedloop/{contract.PRODUCER}",
                              type=contract.type_name(), time=T0,
                              data=contract.model_dump(mode="json"))
        tracking = Tracking(contract.PRODUCER.upper(), self.sequence)
        handler(envelope, contract, tracking)
        return tracking

    def raise_alert(self, alert_id: str, fingerprint: str = "fp-1", severity: str = "P0") -> None:
        self.send(self.app.handle_alert_raised, AlertRaised(
            alert_id=alert_id, fingerprint=fingerprint, source="rule", name="checkout_latency",
            entity="store-42", severity=severity, value=950.0, threshold=800.0, started_at=T0))

    def incident_ids(self) -> set[str]:
        ids = set()
        for n in self.app.recorder.select_notifications(1, 1000):
            event = self.app.decode(n)
            if isinstance(event, Incident.Opened):
                ids.add(str(event.originator_id))
        return ids


def test_one_incident_per_fingerprint_while_it_is_open(feed):
    feed.raise_alert("a-1")
    feed.raise_alert("a-1")  # re-sent
    feed.raise_alert("a-2")  # fired again
    [incident_id] = feed.incident_ids()
    incident = feed.app.incident("P0-2026-11-001")
    assert incident["id"] == incident_id and incident["alert_ids"] == ["a-1", "a-2"]
    assert [e["action"] for e in incident["timeline"]] == ["opened", "alert attached"]


def test_after_resolution_a_new_firing_opens_the_next_incident_but_a_resend_does_not(feed):
    feed.raise_alert("a-1")
    feed.app.resolve("P0-2026-11-001", "alice", "restarted", CAUSE)
    feed.raise_alert("a-1")  # the old firing sent again: still nothing new
    assert len(feed.incident_ids()) == 1
    feed.raise_alert("a-2")
    assert len(feed.incident_ids()) == 2
    second = feed.app.incident("P0-2026-11-002")
    assert (second["occurrence"], second["status"], second["alert_ids"]) == (2, "new", ["a-2"])


def test_refs_are_numbered_per_severity(feed):
    feed.raise_alert("a-1", fingerprint="fp-1", severity="P1")
    feed.raise_alert("b-1", fingerprint="fp-2", severity="p1")
    feed.raise_alert("c-1", fingerprint="fp-3", severity="P2")
    refs = sorted(feed.app.incident(i)["ref"] for i in feed.incident_ids())
    assert refs == ["P1-2026-11-001", "P1-2026-11-002", "P2-2026-11-001"]


def test_an_alert_with_an_unknown_severity_is_rejected_to_the_dead_letter_stream(feed):
    with pytest.raises(Rejected, match="severity 'SEV1' is not one of P0, P1, P2, P3"):
        feed.raise_alert("a-1", severity="SEV1")


def test_facts_about_unknown_incidents_are_acknowledged_and_skipped(feed):
    tracking = feed.send(feed.app.handle_capa_opened, CapaOpened(
        capa_id="c-1", incident_id=str(uuid.uuid4()), ref="P0-2026-11-009", title="t", at=T0))
    assert feed.app.already_processed(tracking)
    assert feed.incident_ids() == set()


def test_a_clear_that_overtakes_its_raise_waits_for_it_and_older_incidents_still_hear_it(feed):
    """Replicas and retries may deliver AlertResolved first: it is retried (not dropped) until
    the raise is there, and a clear for an earlier occurrence reaches that incident."""
    cleared = AlertResolved(alert_id="a-1", fingerprint="fp-1", entity="store-42", value=70.0,
                            resolved_at=T0)
    with pytest.raises(AlertNotRaisedYet):
        feed.send(feed.app.handle_alert_resolved, cleared)
    feed.raise_alert("a-1")
    [first] = feed.incident_ids()
    feed.app.resolve(first, "alice", "fixed", CAUSE)
    feed.raise_alert("a-2")  # the next occurrence opens the next incident
    feed.send(feed.app.handle_alert_resolved, cleared)  # the late clear of a-1
    assert feed.app.incident(first)["cleared_alert_ids"] == ["a-1"]


def test_the_whole_story_from_alert_to_closure_through_the_application(feed):
    feed.raise_alert("a-1")
    [incident_id] = feed.incident_ids()
    feed.send(feed.app.handle_notification_delivered, NotificationDelivered(
        notification_id="n-1", incident_id=incident_id, ref="P0-2026-11-001", channel_id="ch-1",
        channel_name="store-ops", reason="incident.opened", attempts=1, status_code=200, at=T0))
    feed.send(feed.app.handle_escalation_triggered, EscalationTriggered(
        incident_id=incident_id, ref="P0-2026-11-001", step=1, channel_ids=["ch-2"],
        waited_seconds=300, at=T0))
    feed.clock.advance(timedelta(minutes=6))
    feed.app.acknowledge(incident_id, "alice", "on it", CAUSE)
    feed.app.resolve("p0-2026-11-001", "alice", "grew the pool", CAUSE)
    feed.send(feed.app.handle_alert_resolved, AlertResolved(
        alert_id="a-1", fingerprint="fp-1", entity="store-42", value=120.0, resolved_at=T0))
    feed.send(feed.app.handle_capa_opened, CapaOpened(
        capa_id="c-1", incident_id=incident_id, ref="P0-2026-11-001", title="latency", at=T0))
    feed.send(feed.app.handle_capa_action_verified, CapaActionVerified(
        capa_id="c-1", incident_id=incident_id, action_id="A-1", kind="corrective", owner="bob",
        verifier="carol", at=T0))
    with pytest.raises(NotClosed):
        feed.app.archive(incident_id, "manager", CAUSE)
    feed.send(feed.app.handle_capa_closed, CapaClosed(
        capa_id="c-1", incident_id=incident_id, ref="P0-2026-11-001", root_cause="pool too small",
        actions=2, at=T0))
    archived = feed.app.archive(incident_id, "manager", CAUSE)

    assert archived["status"] == "archived" and archived["capa_id"] == "c-1"
    assert [e["action"] for e in feed.app.timeline("P0-2026-11-001")] == [
        "opened", "notification delivered", "escalated", "acknowledged", "role assigned",
        "resolved", "alert cleared", "CAPA opened", "action verified", "closed", "archived"]


def test_the_capa_case_walks_the_incident_through_the_status_flow(feed):
    """方案制定中 when the root cause is found, 执行中 once actions are planned, 验证中 when the
    last action is done; a redelivered step is recorded once and nothing moves backwards."""
    feed.raise_alert("a-1")
    [incident_id] = feed.incident_ids()
    feed.app.resolve(incident_id, "alice", "restarted the feed", CAUSE)
    status = lambda: feed.app.incident(incident_id)["status"]
    feed.send(feed.app.handle_capa_opened, CapaOpened(
        capa_id="c-1", incident_id=incident_id, ref="P0-2026-11-001", title="feed", at=T0))
    feed.send(feed.app.handle_capa_root_cause_recorded, CapaRootCauseRecorded(
        capa_id="c-1", incident_id=incident_id, method="fishbone", statement="no watchdog",
        category="machine", revision=1, by="zhang", at=T0))
    assert status() == "planning"
    for action_id in ("A-1", "A-2"):
        added = CapaActionAdded(capa_id="c-1", incident_id=incident_id, action_id=action_id,
                                kind="corrective", title="add a watchdog", owner="bob",
                                due_date=T0.date(), acceptance_criteria="alarm in 1 min", by="zhang",
                                at=T0)
        feed.send(feed.app.handle_capa_action_added, added)
        feed.send(feed.app.handle_capa_action_added, added)  # re-sent
    assert status() == "executing"
    done = lambda action_id, left: CapaActionCompleted(
        capa_id="c-1", incident_id=incident_id, action_id=action_id, kind="corrective",
        owner="bob", completed_by="bob", evidence="PR 42", open_actions=left, at=T0)
    feed.send(feed.app.handle_capa_action_completed, done("A-1", 1))
    assert status() == "executing"
    feed.send(feed.app.handle_capa_action_completed, done("A-2", 0))
    assert status() == "verifying"
    feed.send(feed.app.handle_capa_root_cause_recorded, CapaRootCauseRecorded(
        capa_id="c-1", incident_id=incident_id, method="5whys", statement="no watchdog at all",
        whys=["feed stopped"], revision=2, by="zhang", at=T0))
    assert status() == "verifying"  # a revised root cause does not send it back
    steps = [e for e in feed.app.timeline(incident_id) if e["action"] in (
        "root cause found", "action planned", "action completed")]
    assert [e["action"] for e in steps] == ["root cause found", "action planned", "action planned",
                                            "action completed", "action completed",
                                            "root cause found"]
    assert "fishbone, category machine" in steps[0]["detail"] and steps[0]["actor"] == "zhang"
    assert "every action done" in steps[4]["detail"]


def test_unknown_ids_and_refs_are_not_found(feed):
    feed.raise_alert("a-1")
    link_id = str(FingerprintLink.create_id("fp-1"))  # exists, but is not an incident
    for unknown in ("P0-2026-11-999", str(uuid.uuid4()), link_id, "nonsense"):
        with pytest.raises(IncidentNotFound, match=re.escape(repr(unknown))):
            feed.app.incident(unknown)
        with pytest.raises(IncidentNotFound):
            feed.app.timeline(unknown)


def test_each_missed_deadline_is_recorded_once_and_a_met_one_never(feed):
    feed.raise_alert("a-1")  # P0: respond within 5 min, resolve within 4 h
    [incident_id] = feed.incident_ids()
    incident = uuid.UUID(incident_id)
    feed.clock.advance(timedelta(minutes=4))
    assert feed.app.record_sla_breaches(incident) == []
    feed.clock.advance(timedelta(minutes=2))
    assert feed.app.record_sla_breaches(incident) == ["respond"]
    assert feed.app.record_sla_breaches(incident) == []  # once
    feed.app.acknowledge(incident_id, "alice", "late, sorry", CAUSE)
    feed.app.resolve(incident_id, "alice", "fixed within 4 h", CAUSE)
    feed.clock.advance(timedelta(hours=5))
    assert feed.app.record_sla_breaches(incident) == []  # resolved in time: nothing to record
    assert feed.app.incident(incident_id)["sla_breaches"] == ["respond"]


def test_raci_roles_one_responsible_one_accountable_many_consulted_and_informed():
    incident = open_incident()
    incident.acknowledge("alice", "on it", T0, "alice", CAUSE)
    assert incident.raci[RaciRole.RESPONSIBLE] == ["alice"]  # who takes it on, until told
    incident.assign(RaciRole.RESPONSIBLE, "bob", T0, "lead", CAUSE)
    incident.assign(RaciRole.ACCOUNTABLE, "region-east", T0, "lead", CAUSE)
    incident.assign(RaciRole.CONSULTED, "dba", T0, "lead", CAUSE)
    incident.assign(RaciRole.CONSULTED, "network", T0, "lead", CAUSE)
    incident.assign(RaciRole.CONSULTED, "dba", T0, "lead", CAUSE)  # already: nothing new
    incident.assign(RaciRole.INFORMED, "store-042", T0, "lead", CAUSE)
    assert incident.raci == {RaciRole.RESPONSIBLE: ["bob"], RaciRole.ACCOUNTABLE: ["region-east"],
                             RaciRole.CONSULTED: ["dba", "network"],
                             RaciRole.INFORMED: ["store-042"]}
    incident.resolve("bob", "fixed", T0, "bob", CAUSE)
    incident.record_capa_opened("c", "t", T0, "capa", CAUSE)
    incident.close("c", "root", 1, T0, "capa", CAUSE)
    with pytest.raises(IncidentFinished, match="cannot change who is informed"):
        incident.assign(RaciRole.INFORMED, "late", T0, "lead", CAUSE)
    assigned = [c for c in map(to_contract, incident.collect_events())
                if isinstance(c, IncidentRoleAssigned)]
    assert [(c.role, c.person, c.via) for c in assigned] == [
        ("responsible", "alice", "acknowledged"), ("responsible", "bob", "hand"),
        ("accountable", "region-east", "hand"), ("consulted", "dba", "hand"),
        ("consulted", "network", "hand"), ("informed", "store-042", "hand")]


def test_staffing_from_the_raci_matrix_fills_roles_nobody_was_given():
    incident = open_incident()
    incident.acknowledge("alice", "on it", T0, "alice", CAUSE)  # responsible by taking it on
    incident.staff({"responsible": ["chen.jing", "li.na"], "accountable": ["zhao.lei"],
                    "consulted": [], "informed": ["wang.fang"]}, ["运营专家: nobody holds it"],
                   T0, "notifier", CAUSE)
    assert incident.raci == {RaciRole.RESPONSIBLE: ["alice"], RaciRole.ACCOUNTABLE: ["zhao.lei"],
                             RaciRole.CONSULTED: [], RaciRole.INFORMED: ["wang.fang"]}
    incident.staff({"responsible": ["x"], "accountable": ["y"]}, [], T0, "notifier", CAUSE)
    assert incident.raci[RaciRole.ACCOUNTABLE] == ["zhao.lei"]  # staffing arrives once
    events = incident.collect_events()
    assert names(events).count("Staffed") == 1
    [line] = [e["detail"] for e in timeline_of(events) if e["action"] == "staffed"]
    assert line == ("staffed from the P0's RACI matrix: accountable (批准): zhao.lei; "
                    "informed (知会): wang.fang; responsible kept as assigned; "
                    "unresolved 运营专家: nobody holds it")
