"""The progress cadence (进展汇报) on the in-memory store: the incidents service keeps when
the next update of an open incident is due (a P0 every 4 h, a P3 never, a stated time
wins), shows whether it is overdue and publishes it; the notifier chases it like a late
stage — the Responsible reminded, the Responsible and the Accountable told at the due time,
then one level up — and each update, a resolution or a severity change moves the chase."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.incidents.domain import Severity
from services.incidents.lifecycle_schemas import ProgressPost
from services.incidents.sla_policies import SlaPolicyError, load_policies
from services.notifier.holds.opening import Opening
from services.notifier.raci.deadline import DeadlineHeld, DeadlineStatus, Phase, deadline_id
from shared.contracts import (
    IncidentOpened, IncidentProgressDue, IncidentProgressPosted, IncidentResolved,
)
from shared.errors import Invalid
from tests.unit.test_incidents_domain import CAUSE, T0, Feed
from tests.unit.test_incidents_lifecycle import published
from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from shared.clock import ManualClock
from tests.unit.test_notifier_domain import SEALER, seconds
from tests.unit.test_raci import _with_tracking, open_p0, sent, store_network

HOURS = timedelta(hours=1)


@pytest.fixture
def feed(store_env) -> Feed:
    return Feed(store_env)


@pytest.fixture
def app(store_env) -> NotifierApplication:
    return NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=EgressPolicy())


def declare(feed: Feed, severity: Severity) -> str:
    return feed.app.declare(severity, "收银系统故障", "store-017", "", "sun.hao", CAUSE)["ref"]


def dues(feed: Feed) -> list[IncidentProgressDue]:
    return [c for c in published(feed.app) if isinstance(c, IncidentProgressDue)]


# -- the incidents service ------------------------------------------------------------------

def test_a_p0_owes_an_update_four_hours_after_its_opening_and_a_p3_none(feed):
    p0 = declare(feed, Severity.P0)
    shown = feed.app.incident(p0)["progress"]
    assert shown == {"next_update_by": T0 + 4 * HOURS, "overdue": False, "since": T0,
                     "stated": False, "last_update_at": None}
    [due] = dues(feed)
    assert (due.ref, due.due_by, due.since, due.why, due.last_update) == (
        p0, T0 + 4 * HOURS, T0, "opened", None)
    feed.clock.advance(4 * HOURS)
    assert feed.app.incident(p0)["progress"]["overdue"] is True
    p3 = declare(feed, Severity.P3)
    assert feed.app.incident(p3)["progress"]["next_update_by"] is None


def test_an_update_sets_the_next_by_the_cadence_or_by_the_time_its_author_states(feed):
    ref = declare(feed, Severity.P0)
    feed.clock.advance(3 * HOURS)
    feed.app.post_progress(ref, "已派工程师", "li.na", CAUSE)
    shown = feed.app.incident(ref)["progress"]
    assert (shown["next_update_by"], shown["last_update_at"], shown["stated"]) == (
        T0 + 7 * HOURS, T0 + 3 * HOURS, False)
    feed.app.post_progress(ref, "等供应商到店", "li.na", CAUSE, next_update_in=30 * timedelta(
        minutes=1))
    assert feed.app.incident(ref)["progress"]["next_update_by"] == T0 + 3.5 * HOURS
    feed.app.post_progress(ref, "供应商明早到", "li.na", CAUSE,
                           next_update_at=T0 + 20 * HOURS)
    incident = feed.app.incident(ref)
    assert incident["progress"]["next_update_by"] == T0 + 20 * HOURS
    assert incident["progress"]["stated"] is True
    posted = [c for c in published(feed.app) if isinstance(c, IncidentProgressPosted)]
    assert [p.next_update_by for p in posted] == [T0 + 7 * HOURS, T0 + 3.5 * HOURS,
                                                  T0 + 20 * HOURS]
    assert [(d.why, d.last_update, d.stated) for d in dues(feed)][1:] == [
        ("progress", 1, False), ("progress", 2, True), ("progress", 3, True)]
    assert incident["timeline"][-1]["detail"] == (
        "update 3 from li.na: 供应商明早到; next update by 2026-11-03 05:00 UTC")


@pytest.mark.parametrize("stated, fix", [
    (T0 - HOURS, "is not in the future"), (T0, "is not in the future"),
    (T0 + timedelta(days=8), "at most 7 days ahead"),
])
def test_a_stated_next_update_not_ahead_is_refused_naming_the_field(feed, stated, fix):
    ref = declare(feed, Severity.P0)
    with pytest.raises(Invalid, match=fix) as refused:
        feed.app.post_progress(ref, "x", "li.na", CAUSE, next_update_at=stated)
    assert refused.value.field == "next_update_at"
    assert feed.app.incident(ref)["progress_updates"] == 0  # nothing was recorded


@pytest.mark.parametrize("body, field", [
    ({"next_update_in": "2h", "next_update_at": "2026-11-02T12:00:00Z"}, "next_update_in"),
    ({"next_update_in": "8d"}, "next_update_in"),
    ({"next_update_in": "soon"}, "next_update_in"),
    ({"next_update_in": 0}, "next_update_in"),
    ({"next_update_at": "2026-11-02T12:00:00"}, "next_update_at"),  # no time zone
])
def test_a_bad_next_update_in_the_request_names_its_field(body, field):
    with pytest.raises(ValueError) as refused:
        ProgressPost.model_validate({"text": "x", "author": "li.na", **body})
    assert refused.value.errors()[0]["loc"] == (field,)


def test_a_severity_change_takes_the_new_pace_from_the_same_start_but_a_promise_stands(feed):
    ref = declare(feed, Severity.P2)
    assert feed.app.incident(ref)["progress"]["next_update_by"] == T0 + 24 * HOURS
    feed.clock.advance(HOURS)
    feed.app.change_severity(ref, Severity.P0, "全店无法收银", "zhao.lei", CAUSE)
    assert feed.app.incident(ref)["progress"]["next_update_by"] == T0 + 4 * HOURS
    assert dues(feed)[-1].why == "severity"
    feed.app.post_progress(ref, "明早前无新进展", "li.na", CAUSE,
                           next_update_at=T0 + 10 * HOURS)
    feed.app.change_severity(ref, Severity.P1, "影响范围小", "zhao.lei", CAUSE)
    assert feed.app.incident(ref)["progress"]["next_update_by"] == T0 + 10 * HOURS
    feed.app.change_severity(ref, Severity.P3, "只有一台", "zhao.lei", CAUSE)
    assert feed.app.incident(ref)["progress"]["next_update_by"] == T0 + 10 * HOURS


def test_an_alert_that_raises_the_incident_takes_it_to_the_faster_pace(feed):
    feed.raise_alert("a-1", fingerprint="fp-1", severity="P2")
    assert feed.app.incident("P2-2026-11-001")["progress"]["next_update_by"] == T0 + 24 * HOURS
    feed.clock.advance(HOURS)
    feed.raise_alert("a-2", fingerprint="fp-1", severity="P0")  # the same problem, worse
    shown = feed.app.incident("P2-2026-11-001")
    assert shown["severity"] == "P0" and shown["progress"]["next_update_by"] == T0 + 4 * HOURS
    assert [d.why for d in dues(feed)] == ["opened", "severity"]


def test_the_resolution_stops_the_cadence_and_a_reopening_starts_it_again(feed):
    ref = declare(feed, Severity.P0)
    feed.clock.advance(HOURS)
    feed.app.resolve(ref, "li.na", "换了交换机", CAUSE)
    feed.clock.advance(10 * HOURS)
    shown = feed.app.incident(ref)["progress"]
    assert (shown["next_update_by"], shown["overdue"]) == (None, False)
    feed.app.post_progress(ref, "复盘中", "li.na", CAUSE)  # after the resolution: no cadence
    assert feed.app.incident(ref)["progress"]["next_update_by"] is None
    assert [p.next_update_by for p in published(feed.app)
            if isinstance(p, IncidentProgressPosted)] == [None]
    feed.app.reopen(ref, "又断了", "zhou.min", CAUSE)
    assert feed.app.incident(ref)["progress"]["next_update_by"] == T0 + 15 * HOURS
    assert dues(feed)[-1].why == "reopened"


def test_a_policy_file_sets_the_cadence_per_severity_and_type(tmp_path):
    path = tmp_path / "sla.yaml"
    path.write_text("""
policies:
  - {severity: P0, respond: 5m, resolve: 4h, update_every: 2h}
  - {severity: P1, respond: 15m, resolve: 24h}
  - {severity: P2, respond: 1h, resolve: 72h, update_every: off}
  - {severity: P3, respond: 4h, resolve: 7d, update_every: 3d}
  - {severity: P1, type: food_safety, respond: 15m, resolve: 24h, update_every: 1h}
""")
    policies = load_policies(path)
    assert policies.policy("P0").update_every == 2 * HOURS
    assert policies.policy("P1").update_every == 8 * HOURS  # omitted: the shipped default
    assert policies.policy("P2").update_every is None
    assert policies.policy("P3").update_every == 72 * HOURS
    assert policies.policy("P1", "food_safety").update_every == HOURS
    path.write_text("policies:\n  - {severity: P0, respond: 5m, resolve: 4h, "
                    "update_every: often}\n")
    with pytest.raises(SlaPolicyError, match=r"policies\.0\.update_every: .*not a duration"):
        load_policies(path)


# -- the notifier's chase -------------------------------------------------------------------

def due_contract(incident_id: str, due_by, since, why: str, last_update: int | None = None,
                 severity: str = "P0") -> IncidentProgressDue:
    return IncidentProgressDue(incident_id=incident_id, ref="P0-2026-11-017", severity=severity,
                               due_by=due_by, since=since, why=why, at=since,
                               last_update=last_update)


def test_a_missed_update_reminds_the_responsible_then_tells_r_and_a_then_goes_up(app):
    im = store_network(app)
    open_p0(app, "inc-p1")
    app.handle_incident_progress_due(*_with_tracking(
        due_contract("inc-p1", T0 + seconds(14400), T0, "opened"), 2))
    progress = deadline_id("inc-p1", "progress")
    chase = app.repository.get(progress)
    assert (chase.kind, chase.due_at, chase.next, chase.subject) == (
        "progress", T0 + seconds(14400), Phase.WARNING, None)
    app.chase(progress, T0 + seconds(14400 * 0.8))
    assert sent(app, "inc-p1", im, "late.progress.warning", "progress") == ["li.na", "zhou.min"]
    app.chase(progress, T0 + seconds(14400))
    assert sent(app, "inc-p1", im, "late.progress.deadline", "progress") == [
        "li.na", "zhao.lei", "zhou.min"]  # the Responsible posts it; the Accountable sees to it
    app.chase(progress, T0 + seconds(15000))
    assert sent(app, "inc-p1", im, "late.progress.up", "progress") == ["wang.jianguo"]
    assert app.repository.get(progress).status is DeadlineStatus.DONE


def test_an_update_meets_the_chase_and_starts_the_next_round_and_resolution_ends_it(app):
    im = store_network(app)
    open_p0(app, "inc-p2")
    app.handle_incident_progress_due(*_with_tracking(
        due_contract("inc-p2", T0 + seconds(14400), T0, "opened"), 2))
    posted = T0 + seconds(3600)
    app.handle_incident_progress_due(*_with_tracking(
        due_contract("inc-p2", posted + seconds(14400), posted, "progress", last_update=1), 3))
    progress = deadline_id("inc-p2", "progress")
    chase = app.repository.get(progress)
    assert (chase.status, chase.started_at, chase.due_at, chase.subject, chase.occasion) == (
        DeadlineStatus.WAITING, posted, posted + seconds(14400), "1", "progress.round2")
    app.chase(progress, posted + seconds(14400 * 0.8))
    assert sent(app, "inc-p2", im, "late.progress.warning", "progress.round2") == [
        "li.na", "zhou.min"]
    # A severity change moves the running round to the new due time.
    app.handle_incident_progress_due(*_with_tracking(
        due_contract("inc-p2", posted + seconds(28800), posted, "severity", severity="P1"), 4))
    assert app.repository.get(progress).due_at == posted + seconds(28800)
    app.handle_incident_resolved(*_with_tracking(IncidentResolved(
        incident_id="inc-p2", ref="P0-2026-11-017", severity="P0", title="t",
        entity="store-017", by="li.na", at=posted + seconds(7200)), 5))
    chase = app.repository.get(progress)
    assert (chase.status, chase.met_why) == (DeadlineStatus.MET, "resolved by li.na")


def test_a_severity_without_a_cadence_stops_the_chase_and_sets_none(app):
    store_network(app)
    open_p0(app, "inc-p3")
    app.handle_incident_progress_due(*_with_tracking(
        due_contract("inc-p3", T0 + seconds(14400), T0, "opened"), 2))
    app.handle_incident_progress_due(*_with_tracking(
        due_contract("inc-p3", None, T0, "severity", severity="P3"), 3))
    chase = app.repository.get(deadline_id("inc-p3", "progress"))
    assert (chase.status, chase.met_why) == (DeadlineStatus.MET, "severity changed")
    # Never set where no cadence applies from the start.
    app.handle_incident_progress_due(*_with_tracking(
        due_contract("inc-p4", None, T0, "opened", severity="P3"), 4))
    assert app.get_or_none(deadline_id("inc-p4", "progress")) is None


def test_a_raise_to_a_severity_with_a_cadence_starts_the_chase(app):
    store_network(app)
    open_p0(app, "inc-p5")  # opened as P0 here; its P3 days had no cadence
    app.handle_incident_progress_due(*_with_tracking(
        due_contract("inc-p5", T0 + seconds(14400), T0, "severity"), 2))
    chase = app.repository.get(deadline_id("inc-p5", "progress"))
    assert (chase.status, chase.started_at, chase.due_at) == (
        DeadlineStatus.WAITING, T0, T0 + seconds(14400))


def test_updates_and_a_resolution_in_one_consumer_batch_leave_the_chase_met(app):
    store_network(app)
    posted = T0 + seconds(600)
    open_p0(app, "inc-p6")

    def batch() -> None:  # the chase set, restarted and met before any of it is stored
        app.handle_incident_progress_due(*_with_tracking(
            due_contract("inc-p6", T0 + seconds(14400), T0, "opened"), 2))
        app.handle_incident_progress_due(*_with_tracking(
            due_contract("inc-p6", posted + seconds(14400), posted, "progress", 1), 3))
        app.handle_incident_resolved(*_with_tracking(IncidentResolved(
            incident_id="inc-p6", ref="P0-2026-11-017", severity="P0", title="t",
            entity="store-017", by="li.na", at=posted + seconds(60)), 4))

    app.save_batch(batch)
    chase = app.repository.get(deadline_id("inc-p6", "progress"))
    assert (chase.status, chase.met_why, chase.subject, chase.rounds) == (
        DeadlineStatus.MET, "resolved by li.na", "1", 1)


def test_while_notifications_are_held_the_chase_waits_and_runs_on_from_the_release(app):
    im = store_network(app)
    app.create_silence(matchers='store=~"sz-.*"', starts_at=T0,
                       ends_at=T0 + seconds(1800), comment="store refit", actor="li.na",
                       cause=CAUSE)
    held = IncidentOpened(
        incident_id="inc-p7", ref="P0-2026-11-017", fingerprint="fp", severity="P0",
        title="收银系统故障", entity="store-017", alert_id="a-1", opened_at=T0,
        respond_by=T0 + seconds(300), resolve_by=T0 + seconds(14400),
        labels={"store": "sz-baoan", "severity": "P0"})
    app.handle_incident_opened(*_with_tracking(held, 1))
    app.handle_incident_progress_due(*_with_tracking(
        due_contract("inc-p7", T0 + seconds(14400), T0, "opened"), 2))
    progress = deadline_id("inc-p7", "progress")
    assert app.repository.get(progress).held_since == T0
    with pytest.raises(DeadlineHeld):
        app.chase(progress, T0 + seconds(14400))
    app.clock.advance(seconds(1800))  # the silence ends: told now, chased from now
    assert app.release_held("inc-p7", app.get_or_none(Opening.create_id("inc-p7")).version,
                            app.clock.now()) == "released"
    chase = app.repository.get(progress)
    assert (chase.held_since, chase.due_at) == (None, T0 + seconds(14400 + 1800))
    app.chase(progress, T0 + seconds(14400 * 0.8 + 1800))
    assert sent(app, "inc-p7", im, "late.progress.warning", "progress") == ["li.na", "zhou.min"]
