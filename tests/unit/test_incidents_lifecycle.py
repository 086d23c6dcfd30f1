"""An incident's lifecycle beyond acknowledge and resolve: its severity changes with new SLA
deadlines, a resolved or closed incident is reopened, progress is posted, people follow it,
and a person declares one by hand. Pure aggregate first, then the application on the
in-memory store, then what reaches the bus and the timeline."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.contracts import (
    CloudEvent, IncidentAcknowledged, IncidentFollowed, IncidentOpened, IncidentProgressDue,
    IncidentProgressPosted, IncidentReopened, IncidentResolved, IncidentRoleAssigned,
    IncidentSeverityChanged, IncidentUnfollowed,
)
from shared.errors import Invalid

from services.incidents.app import IncidentsApplication
from services.incidents.domain import (
    SLA, IncidentFinished, NotReopenable, Severity, SeverityUnchanged, Status,
)
from services.incidents.domain.lifecycle import IncidentLifecycle
from services.incidents.timeline import timeline_of
from services.incidents.translate import to_contract
from tests.unit.test_incidents_domain import CAUSE, T0, Feed, names, open_incident


def later(minutes: float) -> object:
    return T0 + timedelta(minutes=minutes)


# -- severity --------------------------------------------------------------------------------
def test_a_raised_severity_takes_the_new_slas_deadlines_counted_from_the_opening():
    incident = open_incident(Severity.P2, ref="P2-2026-11-001")
    incident.change_severity(Severity.P0, "支付全部失败", "zhao.lei", later(10), CAUSE)
    assert incident.severity is Severity.P0
    assert incident.respond_by == T0 + SLA[Severity.P0].respond
    assert incident.resolve_by == T0 + SLA[Severity.P0].resolve
    [changed] = [e for e in incident.collect_events() if isinstance(e, IncidentLifecycle.SeverityChanged)]
    assert (changed.previous, changed.severity, changed.acknowledged) == ("P2", "P0", False)
    # Already past the P0 respond deadline: the SLA watch records it as missed.
    assert incident.record_sla_breach("respond", later(10), "sla watch", CAUSE)


def test_a_lowered_severity_relaxes_the_deadlines_and_says_it_was_in_hand():
    incident = open_incident(Severity.P0)
    incident.acknowledge("li.na", "", later(2), "li.na", CAUSE)
    incident.change_severity(Severity.P3, "只影响一个收银台", "li.na", later(3), CAUSE)
    assert incident.resolve_by == T0 + timedelta(days=7)
    changed = incident.collect_events()[-1]
    assert changed.acknowledged is True and changed.status == "investigating"


def test_the_same_severity_or_an_empty_reason_is_refused():
    incident = open_incident(Severity.P1, ref="P1-2026-11-001")
    with pytest.raises(SeverityUnchanged, match="P1-2026-11-001 cannot change severity to P1"):
        incident.change_severity(Severity.P1, "no change", "li.na", later(1), CAUSE)
    with pytest.raises(Invalid) as refused:
        incident.change_severity(Severity.P0, "  ", "li.na", later(1), CAUSE)
    assert refused.value.field == "reason"


# -- reopening -------------------------------------------------------------------------------
def test_a_resolved_incident_reopens_to_investigating_and_must_be_acknowledged_again():
    incident = open_incident(Severity.P0)
    incident.resolve("li.na", "换了收银机", later(30), "li.na", CAUSE)
    assert not incident.accepts_alerts
    incident.reopen("又坏了", "zhou.min", later(90), CAUSE)
    assert incident.status is Status.INVESTIGATING
    assert incident.resolved_at is None and incident.accepts_alerts
    assert incident.resolve_by == later(90) + SLA[Severity.P0].resolve
    incident.acknowledge("zhou.min", "on it again", later(91), "zhou.min", CAUSE)
    incident.resolve("zhou.min", "换了主板", later(120), "zhou.min", CAUSE)
    assert names(incident.collect_events())[-3:] == ["Reopened", "Acknowledged", "Resolved"]
    assert incident.resolved_by == "zhou.min" and incident.reopened_times == 1


def test_a_closed_incident_reopens_and_can_close_again():
    incident = open_incident(Severity.P1, ref="P1-2026-11-002")
    incident.resolve("li.na", "fixed", later(30), "li.na", CAUSE)
    incident.close("c-1", "bad cable", 1, later(600), "capa", CAUSE)
    incident.reopen("the cable was not the cause", "zhao.lei", later(700), CAUSE)
    assert incident.status is Status.INVESTIGATING and incident.closed_at is None
    incident.resolve("li.na", "new switch", later(800), "li.na", CAUSE)
    incident.close("c-1", "faulty switch", 2, later(900), "capa", CAUSE)
    assert incident.status is Status.CLOSED and incident.root_cause == "faulty switch"


def test_an_open_or_archived_incident_cannot_be_reopened():
    incident = open_incident(Severity.P0)
    with pytest.raises(NotReopenable, match="only a resolved or closed incident can be, and it "
                                            "is new"):
        incident.reopen("why not", "li.na", later(1), CAUSE)
    incident.resolve("li.na", "fixed", later(30), "li.na", CAUSE)
    incident.close("c-1", "cause", 1, later(60), "capa", CAUSE)
    incident.archive(later(61), "admin", CAUSE)
    with pytest.raises(NotReopenable, match="it is archived"):
        incident.reopen("again", "li.na", later(62), CAUSE)


# -- progress and followers ---------------------------------------------------------------------
def test_progress_updates_are_numbered_and_an_empty_one_is_refused():
    incident = open_incident()
    assert incident.post_progress("已联系供应商", "li.na", later(5), CAUSE) == 1
    assert incident.post_progress(" 备件在路上 ", "li.na", later(15), CAUSE) == 2
    assert incident.collect_events()[-1].text == "备件在路上"
    with pytest.raises(Invalid) as refused:
        incident.post_progress("", "li.na", later(16), CAUSE)
    assert refused.value.field == "text"


def test_following_twice_or_unfollowing_a_stranger_records_nothing():
    incident = open_incident()
    assert incident.follow("sun.hao", "sun.hao", later(1), CAUSE)
    assert not incident.follow("sun.hao", "sun.hao", later(2), CAUSE)
    assert not incident.unfollow("nobody", "nobody", later(3), CAUSE)
    assert incident.unfollow("sun.hao", "zhao.lei", later(4), CAUSE)
    assert incident.followers == ()
    assert names(incident.collect_events())[-2:] == ["Followed", "Unfollowed"]


def test_a_closed_incident_takes_no_progress_and_no_followers():
    incident = open_incident()
    incident.resolve("li.na", "fixed", later(30), "li.na", CAUSE)
    incident.close("c-1", "cause", 1, later(60), "capa", CAUSE)
    with pytest.raises(IncidentFinished):
        incident.post_progress("late news", "li.na", later(61), CAUSE)
    with pytest.raises(IncidentFinished):
        incident.follow("sun.hao", "sun.hao", later(61), CAUSE)
    with pytest.raises(IncidentFinished):
        incident.change_severity(Severity.P3, "over", "li.na", later(61), CAUSE)


# -- the application, the bus and the timeline ----------------------------------------------------
@pytest.fixture
def incidents(store_env) -> IncidentsApplication:
    return Feed(store_env).app


def published(app: IncidentsApplication) -> list:
    contracts = []
    for n in app.recorder.select_notifications(1, 1000):
        contract = to_contract(app.decode(n))
        if contract is not None:
            contracts.append(contract)
    return contracts


def test_a_declared_incident_records_its_reporter_who_follows_it(incidents):
    declared = incidents.declare(Severity.P1, "门店停电", "store-017", "整店停电", "sun.hao", CAUSE)
    assert declared["ref"] == "P1-2026-11-001" and declared["reporter"] == "sun.hao"
    assert declared["followers"] == ["sun.hao"] and declared["status"] == "new"
    opened, followed, due = published(incidents)
    assert isinstance(due, IncidentProgressDue) and due.why == "opened"  # P1: every 8 h
    assert isinstance(opened, IncidentOpened) and opened.reporter == "sun.hao"
    assert opened.labels["alertname"] == "门店停电" and opened.severity == "P1"
    assert isinstance(followed, IncidentFollowed) and followed.via == "reporter"
    again = incidents.declare(Severity.P1, "门店停电", "store-018", "", "sun.hao", CAUSE)
    assert again["ref"] == "P1-2026-11-002"  # gap-free, like alert-raised incidents


def test_each_lifecycle_change_is_published_and_told_on_the_timeline(incidents):
    ref = incidents.declare(Severity.P2, "收银慢", "store-017", "", "sun.hao", CAUSE)["ref"]
    incidents.follow(ref, "wang.jianguo", "zhao.lei", CAUSE)
    incidents.change_severity(ref, Severity.P0, "全店无法收银", "zhao.lei", CAUSE)
    incidents.post_progress(ref, "已派工程师", "li.na", CAUSE)
    incidents.resolve(ref, "li.na", "换了交换机", CAUSE)
    incidents.reopen(ref, "又断了", "zhou.min", CAUSE)
    incidents.unfollow(ref, "wang.jianguo", "wang.jianguo", CAUSE)
    kinds = [type(c) for c in published(incidents)]
    assert kinds == [IncidentOpened, IncidentFollowed, IncidentProgressDue, IncidentFollowed,
                     IncidentSeverityChanged, IncidentProgressDue,  # P0's cadence: 4 h
                     IncidentProgressPosted, IncidentProgressDue,
                     # resolving implies acknowledging, which makes li.na responsible
                     IncidentAcknowledged, IncidentRoleAssigned, IncidentResolved,
                     IncidentReopened, IncidentProgressDue, IncidentUnfollowed]
    [changed] = [c for c in published(incidents) if isinstance(c, IncidentSeverityChanged)]
    assert changed.ref == ref and (changed.previous, changed.severity) == ("P2", "P0")
    assert changed.respond_by == T0 + timedelta(minutes=5)
    [reopened] = [c for c in published(incidents) if isinstance(c, IncidentReopened)]
    assert (reopened.was, reopened.status, reopened.by) == ("planning", "investigating",
                                                            "zhou.min")
    # The ref keeps its P2: a ref is issued once and never renumbered.
    incident = incidents.incident(ref)
    assert incident["severity"] == "P0" and incident["followers"] == ["sun.hao"]
    assert incident["progress_updates"] == 1 and incident["reopened"] == 1
    story = {e["action"]: e["detail"] for e in incident["timeline"]}
    assert story["opened"] == (f"P2 incident {ref} '收银慢' on store-017 reported by sun.hao; "
                               "respond by 2026-11-02 10:00 UTC, resolve by 2026-11-05 09:00 UTC")
    assert story["severity changed"].startswith("zhao.lei changed the severity from P2 to P0: "
                                                "全店无法收银; respond by 2026-11-02 09:05 UTC")
    assert story["progress"] == ("update 1 from li.na: 已派工程师; next update by "
                                 "2026-11-02 13:00 UTC")
    assert story["reopened"] == f"zhou.min reopened {ref} (方案制定中 → 调查中): 又断了; " \
                                "to be acknowledged again, resolve by 2026-11-02 13:00 UTC"
    assert story["followed"] == "wang.jianguo follows it (added by zhao.lei)"
    assert story["unfollowed"] == "wang.jianguo no longer follows it"
    assert [e["action"] for e in incident["timeline"]].count("followed") == 2


def test_unfollowed_has_the_contract_shape(incidents):
    ref = incidents.declare(Severity.P3, "灯坏了", "store-017", "", "sun.hao", CAUSE)["ref"]
    incidents.unfollow(ref, "sun.hao", "sun.hao", CAUSE)
    last = published(incidents)[-1]
    assert isinstance(last, IncidentUnfollowed) and last.person == "sun.hao"
    envelope = CloudEvent(id="incidents:3", source="closedloop/incidents",
                          type=last.type_name(), time=T0, data=last.model_dump(mode="json"))
    assert envelope.type == "closedloop.incidents.follower.removed.v1"


def test_timeline_of_a_reopened_incident_measures_the_second_resolution_against_its_new_deadline():
    incident = open_incident(Severity.P0)
    incident.resolve("li.na", "fixed", later(30), "li.na", CAUSE)
    incident.reopen("again", "zhou.min", later(60), CAUSE)
    incident.resolve("zhou.min", "fixed for good", later(120), "zhou.min", CAUSE)
    lines = timeline_of(incident.collect_events())
    assert lines[-1]["detail"].endswith("(within the resolution SLA, 3 h to spare)")
