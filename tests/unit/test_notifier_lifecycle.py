"""Lifecycle messages in the notifier (in-memory store): who hears of a severity change, a
progress update, a reopening; each person once and never the one who acted; a raise of an
unacknowledged incident to P0 pages the P0 ladder's step 0 and starts its escalation; a
reopening starts the ladder over under reasons of its own; held incidents tell nobody."""
from __future__ import annotations

from services.notifier.domain import Delivery, Escalation, EscalationStatus
from services.notifier.domain.ladder import Fired
from services.notifier.raci.deadline import DeadlineStatus, Phase, deadline_id
from services.notifier.raci.followers import Followers
from shared.contracts import (
    IncidentAcknowledged, IncidentFollowed, IncidentOpened, IncidentProgressPosted,
    IncidentReopened, IncidentResolved, IncidentSeverityChanged, IncidentSlaAtRisk,
    IncidentSlaResumed, IncidentUnfollowed,
)
from tests.unit.test_notifier_domain import CAUSE, T0, seconds
from tests.unit.test_raci import PEOPLE, _with_tracking, app, store_network  # noqa: F401

REF = "P2-2026-11-004"


class Story:
    """One incident's messages in order, each its own envelope (m:<n>)."""

    def __init__(self, app, incident_id: str) -> None:
        self.app, self.incident_id, self.seq = app, incident_id, 0

    def send(self, handler, contract) -> str:
        self.seq += 1
        handler(*_with_tracking(contract, self.seq))
        return f"m:{self.seq}"

    def open(self, severity: str = "P2", trial: bool = False) -> str:
        return self.send(self.app.handle_incident_opened, IncidentOpened(
            incident_id=self.incident_id, ref=REF, fingerprint="fp", severity=severity,
            title="收银台卡顿", entity="store-017", alert_id="a-1", opened_at=T0,
            respond_by=T0 + seconds(3600), resolve_by=T0 + seconds(72 * 3600),
            labels={"entity": "store-017", "severity": severity}, trial=trial,
            reporter="sun.hao"))

    def follow(self, person: str, via: str = "hand") -> str:
        return self.send(self.app.handle_incident_followed, IncidentFollowed(
            incident_id=self.incident_id, ref=REF, person=person, by=person, via=via, at=T0))

    def severity(self, severity: str, previous: str, by: str, acknowledged: bool = False) -> str:
        return self.send(self.app.handle_incident_severity_changed, IncidentSeverityChanged(
            incident_id=self.incident_id, ref=REF, severity=severity, previous=previous,
            reason="全店收银瘫痪", by=by, respond_by=T0 + seconds(300),
            resolve_by=T0 + seconds(14400), acknowledged=acknowledged, status="new",
            at=T0 + seconds(60)))

    def progress(self, author: str, number: int = 1) -> str:
        return self.send(self.app.handle_incident_progress_posted, IncidentProgressPosted(
            incident_id=self.incident_id, ref=REF, number=number, text="已联系厂商",
            author=author, at=T0 + seconds(120)))


def told(app, incident_id: str, reason: str, occasion: str, channel: str) -> list[str]:
    return sorted(h for h in [*PEOPLE, "sun.hao", "chen.jing"] if app.get_or_none(
        Delivery.create_id(incident_id, reason, channel, {"handle": h}, occasion)) is not None)


def network(app) -> tuple[str, str]:
    """The store's people on `im` (with the reporter and a follower), and an on-call channel
    that a P0 policy pages first, then the managers after 15 minutes."""
    im = store_network(app)
    for handle in ("sun.hao", "chen.jing"):
        app.add_person(definition={"handle": handle, "name": handle, "contacts": [
            {"medium": "chat", "address": f"@{handle}", "channel": "im"}]},
            actor="mgr", cause=CAUSE)
    oncall = app.register_channel(name="oncall", kind="webhook", url="http://h/oncall",
                                  secret="s" * 32, headers=None, actor="mgr",
                                  cause=CAUSE)["id"]
    app.define_policy(name="critical", severities=["P0"], actor="mgr", cause=CAUSE, steps=[
        {"targets": [{"kind": "channel", "ref": str(oncall)}], "delay_seconds": 900},
        {"targets": [{"kind": "role", "ref": "战区负责人"}], "delay_seconds": 900}])
    return im, str(oncall)


def test_a_progress_update_reaches_r_a_reporter_and_followers_once_each_not_its_author(app):
    im, _ = network(app)
    story = Story(app, "inc-l1")
    story.open()  # P2: li.na is R and A
    story.follow("sun.hao", via="reporter")
    story.follow("chen.jing")
    story.follow("sun.hao")  # following again (a redelivery from another path): no change
    assert app.get_or_none(Followers.create_id("inc-l1")).people == ["sun.hao", "chen.jing"]
    update = story.progress("chen.jing")
    assert told(app, "inc-l1", "incident.progress", update, im) == ["li.na", "sun.hao"]
    assert app.get_or_none(Delivery.create_id("inc-l1", "incident.progress", im,
                                              {"handle": "li.na"}, update)).severity == "P2"
    scheduled = [e for e in map(app.decode, app.recorder.select_notifications(1, 10000))
                 if isinstance(e, Delivery.Scheduled) and e.reason == "incident.progress"]
    # One message each, though sun.hao is both reporter and follower.
    assert sorted(e.recipient["handle"] for e in scheduled) == ["li.na", "sun.hao"]

    story.send(app.handle_incident_unfollowed, IncidentUnfollowed(
        incident_id="inc-l1", ref=REF, person="sun.hao", by="sun.hao", at=T0))
    second = story.progress("li.na", number=2)
    # The reporter who stopped following is still the requester; the author is not told.
    assert told(app, "inc-l1", "incident.progress", second, im) == ["chen.jing", "sun.hao"]


def test_raising_an_unacknowledged_incident_to_p0_pages_the_p0_ladder_and_starts_it(app):
    im, oncall = network(app)
    story = Story(app, "inc-l2")
    story.open()
    assert app.get_or_none(Escalation.create_id("inc-l2")) is None  # no P2 policy
    story.follow("sun.hao", via="reporter")
    raised = story.severity("P0", "P2", by="li.na")
    assert told(app, "inc-l2", "incident.severity_changed", raised, im) == ["sun.hao"]
    page = app.get_or_none(Delivery.create_id("inc-l2", "incident.severity_changed", oncall,
                                              None, raised))
    assert page is not None and page.severity == "P0"
    escalation = app.repository.get(Escalation.create_id("inc-l2"))
    assert escalation.status is EscalationStatus.WAITING and escalation.severity == "P0"
    assert escalation.due_at == app.clock.now() + seconds(900)
    # The respond chase now runs to the P0 deadline: warned at 80% of its five minutes.
    respond = app.repository.get(deadline_id("inc-l2", "respond"))
    assert respond.due_at == T0 + seconds(300) and respond.next is Phase.WARNING
    assert respond.next_at == T0 + seconds(240)
    assert app.repository.get(deadline_id("inc-l2", "resolve")).due_at == T0 + seconds(14400)


def test_a_deadline_moved_past_its_warning_goes_straight_to_the_accountable(app):
    network(app)
    story = Story(app, "inc-l6")
    story.open()
    app.clock.advance(seconds(280))  # 80% of the P0 five minutes has passed
    story.severity("P0", "P2", by="li.na")
    respond = app.repository.get(deadline_id("inc-l6", "respond"))
    assert respond.warn_at is None and respond.next is Phase.DEADLINE
    app.chase(respond.id, T0 + seconds(300))
    assert app.repository.get(respond.id).fired == ["deadline"]


def test_a_raise_in_hand_or_a_lowering_tells_people_but_pages_nobody(app):
    im, oncall = network(app)
    story = Story(app, "inc-l3")
    story.open()
    in_hand = story.severity("P0", "P2", by="zhao.lei", acknowledged=True)
    assert told(app, "inc-l3", "incident.severity_changed", in_hand, im) == ["li.na"]
    lowered = story.severity("P3", "P0", by="zhao.lei")
    later = story.progress("zhao.lei")
    assert app.get_or_none(Delivery.create_id("inc-l3", "incident.progress", im,
                                              {"handle": "li.na"}, later)).severity == "P3"
    for occasion in (in_hand, lowered):
        assert app.get_or_none(Delivery.create_id(
            "inc-l3", "incident.severity_changed", oncall, None, occasion)) is None
    assert app.get_or_none(Escalation.create_id("inc-l3")) is None


def test_a_reopened_incident_climbs_its_ladder_again_under_new_reasons(app):
    im, oncall = network(app)
    story = Story(app, "inc-l4")
    story.open("P0")  # R zhou.min, li.na; A zhao.lei; I wang.jianguo
    story.send(app.handle_incident_acknowledged, IncidentAcknowledged(
        incident_id="inc-l4", ref=REF, by="li.na", at=T0 + seconds(60)))
    story.send(app.handle_incident_resolved, IncidentResolved(
        incident_id="inc-l4", ref=REF, severity="P0", title="t", entity="store-017",
        by="li.na", at=T0 + seconds(600)))
    assert app.repository.get(Escalation.create_id("inc-l4")).status is EscalationStatus.STOPPED
    reopened = story.send(app.handle_incident_reopened, IncidentReopened(
        incident_id="inc-l4", ref=REF, severity="P0", reason="还是卡", by="zhao.lei",
        was="planning", status="investigating", resolve_by=T0 + seconds(20000),
        at=T0 + seconds(900)))
    assert told(app, "inc-l4", "incident.reopened", reopened, im) == [
        "li.na", "wang.jianguo", "zhou.min"]
    assert app.get_or_none(Delivery.create_id("inc-l4", "incident.reopened", oncall, None,
                                              reopened)) is not None
    escalation = app.repository.get(Escalation.create_id("inc-l4"))
    assert escalation.status is EscalationStatus.WAITING and escalation.armings == 1
    assert escalation.reason_of(Fired(1, 0)) == "escalation.step1.rearm1"
    due = escalation.due_at
    app.escalate("inc-l4", due)
    assert told(app, "inc-l4", "escalation.step1.rearm1", None, im) == ["zhao.lei"]


def test_an_incident_in_trial_mode_tells_nobody_of_its_lifecycle(app):
    im, oncall = network(app)
    story = Story(app, "inc-l5")
    story.open("P2", trial=True)
    story.follow("sun.hao", via="reporter")
    raised = story.severity("P0", "P2", by="li.na")
    update = story.progress("li.na")
    assert told(app, "inc-l5", "incident.severity_changed", raised, im) == []
    assert told(app, "inc-l5", "incident.progress", update, im) == []
    assert app.get_or_none(Escalation.create_id("inc-l5")) is None


def test_an_opening_a_follow_and_a_raise_in_one_consumer_batch_tell_the_same_story(app):
    im, oncall = network(app)
    story = Story(app, "inc-l7")

    def batch() -> None:
        story.open()
        story.follow("sun.hao", via="reporter")
        story.severity("P0", "P2", by="li.na")

    app.save_batch(batch)
    assert told(app, "inc-l7", "incident.severity_changed", "m:3", im) == ["sun.hao"]
    assert app.get_or_none(Delivery.create_id("inc-l7", "incident.severity_changed", oncall,
                                              None, "m:3")) is not None
    # The deadlines the opening set earlier in the batch moved with the raise.
    assert app.repository.get(deadline_id("inc-l7", "respond")).due_at == T0 + seconds(300)


def test_an_opening_and_its_resolution_in_one_consumer_batch_meet_the_chases_it_set(app):
    network(app)
    story = Story(app, "inc-l8")

    def batch() -> None:
        story.open()
        story.send(app.handle_incident_resolved, IncidentResolved(
            incident_id="inc-l8", ref=REF, severity="P2", title="t", entity="store-017",
            by="li.na", at=T0 + seconds(60)))

    app.save_batch(batch)  # one transaction: the store knew neither deadline when resolving
    for key in ("respond", "resolve"):
        chase = app.repository.get(deadline_id("inc-l8", key))
        assert (chase.status, chase.met_why) == (DeadlineStatus.MET, "resolved by li.na")


def test_an_sla_at_risk_warning_reaches_the_responsible_only(app):
    im, _ = network(app)
    story = Story(app, "inc-l6")
    story.open()  # P2: li.na is R (and A)
    story.follow("chen.jing")
    warning = IncidentSlaAtRisk(incident_id="inc-l6", ref=REF, severity="P2", kind="respond",
                                deadline=T0 + seconds(3600), at=T0 + seconds(2700))
    sent = story.send(app.handle_incident_sla_at_risk, warning)
    assert told(app, "inc-l6", "sla.at_risk", sent, im) == ["li.na"]  # not the follower
    scheduled = [e for e in map(app.decode, app.recorder.select_notifications(1, 10000))
                 if isinstance(e, Delivery.Scheduled) and e.reason == "sla.at_risk"]
    assert [(e.recipient["handle"], e.about["deadline"]) for e in scheduled] == [
        ("li.na", "respond")]
    # Someone assigned by hand is the one warned.
    named = story.send(app.handle_incident_sla_at_risk, warning.model_copy(
        update={"kind": "resolve", "responsible": ["chen.jing"]}))
    assert told(app, "inc-l6", "sla.at_risk", named, im) == ["chen.jing"]


def test_an_incident_in_trial_mode_is_not_warned_at_risk(app):
    im, _ = network(app)
    story = Story(app, "inc-l7")
    story.open("P2", trial=True)
    sent = story.send(app.handle_incident_sla_at_risk, IncidentSlaAtRisk(
        incident_id="inc-l7", ref=REF, severity="P2", kind="respond",
        deadline=T0 + seconds(3600), at=T0 + seconds(2700)))
    assert told(app, "inc-l7", "sla.at_risk", sent, im) == []


def test_a_resumed_incident_moves_its_respond_and_resolve_chases_to_the_new_deadlines(app):
    network(app)
    story = Story(app, "inc-l8")
    story.open()  # respond within 1 h, resolve within 72 h
    story.send(app.handle_incident_sla_resumed, IncidentSlaResumed(
        incident_id="inc-l8", ref=REF, by="li.na", paused_since=T0 + seconds(600),
        paused_seconds=3600.0, at=T0 + seconds(4200), deadlines={
            "respond": T0 + seconds(7200), "resolve": T0 + seconds(75 * 3600),
            "close": T0 + seconds(99 * 3600)}))
    assert app.repository.get(deadline_id("inc-l8", "respond")).due_at == T0 + seconds(7200)
    assert app.repository.get(deadline_id("inc-l8", "resolve")).due_at == \
        T0 + seconds(75 * 3600)
