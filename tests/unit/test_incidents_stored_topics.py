"""Incidents stored before the aggregate was split into one module per use case still load:
every event keeps the topic ("module:Qualname") it was stored under, and that topic resolves
to the class the incident's projections, timeline and translation look events up by."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from services.incidents.app import state_of
from services.incidents.domain import Incident, RaciRole, Severity
from services.incidents.timeline import timeline_of
from shared.store import ServiceApplication

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "msg-1", "trace": {}}
_INCIDENT = "services.incidents.domain.incident:Incident."
_LIFECYCLE = "services.incidents.domain.lifecycle:IncidentLifecycle."
# The topics on disk: what earlier releases wrote, so never to be changed.
STORED = {name: _INCIDENT + name for name in (
    "Opened", "AlertAttached", "AlertCleared", "Acknowledged", "PageRead", "RoleAssigned",
    "Staffed", "Resolved", "Archived", "SlaBreached", "NotificationDelivered",
    "NotificationFailed", "Escalated", "NotificationsHeld", "NotificationsReleased",
    "CapaOpened", "CapaStepRecorded", "ActionVerified", "Closed")} | {
    name: _LIFECYCLE + name for name in (
        "SeverityChanged", "Reopened", "ProgressPosted", "Followed", "Unfollowed")}


# The incident below as the code stored it while incident.py defined every event (commit
# 4f67560): its stored events, its state and its timeline then.
BEFORE_SPLIT = Path(__file__).parent / "stored" / "incident_before_split.json"


def an_incident_that_lived_a_whole_life() -> Incident:
    at = T0
    incident = Incident.open(
        fingerprint="fp-checkout", occurrence=1, ref="P2-2026-11-001", severity=Severity.P2,
        title="checkout_latency on store-42", entity="store-42",
        alert={"alert_id": "a-1", "name": "checkout_latency"}, at=at, actor="detector",
        cause=CAUSE)
    incident.record_alert({"alert_id": "a-2"}, at, "detector", CAUSE)
    incident.record_alert_cleared("a-1", 10.0, at, at, "detector", CAUSE)
    page = {"channel_name": "ops", "reason": "incident.opened", "attempts": 1}
    incident.record_notification("delivered", {**page, "notification_id": "n-1"}, at,
                                 "notifier", CAUSE)
    incident.record_notification("failed", {**page, "notification_id": "n-2", "error": "503"},
                                 at, "notifier", CAUSE)
    incident.record_escalation(1, ["c-1"], 300.0, at, "notifier", CAUSE)
    incident.record_hold({"kind": "silence", "hold_id": "s-1", "name": "deploy", "until": None},
                         at, "notifier", CAUSE)
    incident.record_release({"kind": "silence", "name": "deploy", "held_seconds": 60.0}, at,
                            "notifier", CAUSE)
    incident.read_page("link-1", "alice", "d-1", at, CAUSE)
    incident.staff({"accountable": ["bob"]}, [], at, "notifier", CAUSE)
    incident.assign(RaciRole.CONSULTED, "carol", at, "alice", CAUSE)
    late = at + timedelta(days=30)
    assert incident.record_sla_breach("resolve", late, "sla watch", CAUSE)
    incident.change_severity(Severity.P1, "customers affected", "alice", late, CAUSE)
    incident.post_progress("rolled back", "alice", late, CAUSE)
    incident.follow("dave", "dave", late, CAUSE)
    incident.unfollow("dave", "dave", late, CAUSE)
    incident.resolve("alice", "rolled back", late, "alice", CAUSE)
    incident.reopen("latency is back", "alice", late, CAUSE)
    incident.resolve("alice", "scaled out", late, "alice", CAUSE)
    incident.record_capa_opened("capa-1", "latency", late, "capa", CAUSE)
    incident.record_capa_step("root-cause:1", "root cause found",
                              {"method": "5whys", "statement": "pool too small"}, None, late,
                              "capa", CAUSE)
    incident.record_action_verified("capa-1", "act-1", "corrective", "alice", "bob", late,
                                    "bob", CAUSE)
    incident.close("capa-1", "pool too small", 1, late, "capa", CAUSE)
    incident.archive(late, "admin", CAUSE)
    return incident


def test_every_event_of_an_incident_is_stored_under_the_topic_it_always_had(store_env):
    app = ServiceApplication(store_env)
    incident = an_incident_that_lived_a_whole_life()
    app.save(incident)

    stored = app.recorder.select_events(incident.id)
    assert {e.topic for e in stored} == set(STORED.values())  # every kind, none new
    for event in stored:  # read back as the class the incident's readers look events up by
        name = event.topic.rsplit(".", 1)[-1]
        assert type(app.mapper.to_domain_event(event)) is getattr(Incident, name)
    assert app.repository.get(incident.id).status == incident.status


def test_incident_names_every_event_class_it_stores_under_its_stored_topic():
    for name, topic in STORED.items():
        assert get_topic(getattr(Incident, name)) == topic
    events = {name for name, value in vars(Incident).items()
              if isinstance(value, type) and issubclass(value, CanMutateAggregate)}
    assert events <= {"Event", "Created", *STORED}  # no subclass shadows a stored event


def test_a_fresh_process_resolves_the_stored_topics_to_the_incident_events():
    # A replica that reads before anything named the events resolves each stored topic
    # from scratch (no topic cached yet): it must land on the class that triggers them.
    script = (
        "from eventsourcing.utils import resolve_topic\n"
        f"resolved = {{name: resolve_topic(topic) for name, topic in {STORED!r}.items()}}\n"
        "from services.incidents.domain import Incident\n"
        "wrong = [n for n, c in resolved.items() if c is not getattr(Incident, n)]\n"
        "assert not wrong, wrong\n")
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=root, env={**os.environ, "PYTHONPATH": path})
    assert done.returncode == 0, done.stderr


def test_an_incident_stored_before_the_split_loads_with_the_same_state_and_timeline(store_env):
    app = ServiceApplication(store_env)
    before = json.loads(BEFORE_SPLIT.read_text())
    incident_id = UUID(before["originator_id"])
    app.recorder.insert_events([StoredEvent(incident_id, e["version"], e["topic"],
                                            e["state"].encode()) for e in before["events"]])

    incident = app.repository.get(incident_id)
    state = json.loads(json.dumps(state_of(incident), default=str))
    # Fields added since (e.g. `storm`) may join; every field it had reads the same.
    assert {key: state.get(key) for key in before["state"]} == before["state"]
    # What the SLA policies added starts empty.
    assert {k: state.get(k) for k in ("close_by", "at_risk", "at_risk_by", "paused_since",
                                        "sla_policy")} == {
        "close_by": None, "at_risk": [], "at_risk_by": {}, "paused_since": None,
        "sla_policy": None}
    # Support tiers came later: an incident from before them was never routed nor scored.
    assert state.get("support") == {"tier": None, "next_tier": None, "handovers": 0,
                                    "score": None}
    events = app.stored_events(incident_id)
    assert [type(e) for e in events] == [
        getattr(Incident, e["topic"].rsplit(".", 1)[-1]) for e in before["events"]]
    assert json.loads(json.dumps(timeline_of(events), default=str)) == before["timeline"]


def test_the_same_life_is_stored_as_it_was_before_the_split(store_env):
    app = ServiceApplication(store_env)
    incident = an_incident_that_lived_a_whole_life()
    app.save(incident)

    before = json.loads(BEFORE_SPLIT.read_text())
    assert str(incident.id) == before["originator_id"]
    assert [e.topic for e in app.recorder.select_events(incident.id)] == [
        e["topic"] for e in before["events"]]
