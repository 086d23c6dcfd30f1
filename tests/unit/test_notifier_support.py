"""The support desk in the notifier (in-memory store): a problem type is routed to its L1
group, whose team's on-call person is told and named Responsible; the tier's time box is a
late stage, whose deadline hands the incident to L2 and then R&D; a hand-over carries its
package to the next tier; the requester gets a satisfaction link once it is resolved."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.notifier.domain import Delivery
from services.notifier.page_links import PageLinks
from services.notifier.raci.deadline import Deadline, DeadlineStatus, deadline_id
from services.notifier.support.desk import InvalidSupport
from services.notifier.support.ticket import SupportTicket
from services.notifier.translate import to_contract
from shared.ack_links import SCORE_SALT, AckLinks
from shared.contracts import (
    IncidentFollowed, IncidentHandedOver, IncidentOpened, IncidentResolved, SupportTierEntered,
)
from tests.unit.test_notifier_domain import CAUSE, T0, seconds
from tests.unit.test_raci import _with_tracking, app, store_network  # noqa: F401

KEY = "k" * 40
DESK = {
    "tiers": [{"name": "L1", "time_box_seconds": 1800}, {"name": "L2", "time_box_seconds": 7200},
              {"name": "R&D"}],
    "groups": {"pos-l1": {"tier": "L1", "team": "一线", "escalates_to": "pos-l2"},
               "pos-l2": {"tier": "L2", "team": "二线", "escalates_to": "rnd"},
               "rnd": {"tier": "R&D", "team": "研发"}},
    "types": {"pos_payment": "pos-l1"},
}


def desk(app) -> str:
    im = store_network(app)
    for name, members in (("一线", ["li.na"]), ("二线", ["zhou.min"]), ("研发", ["zhao.lei"])):
        app.form_team(definition={"name": name, "members": members}, actor="mgr", cause=CAUSE)
    app.define_support(DESK, "mgr", CAUSE)
    return im


def opened(incident_id: str, problem_type: str | None = "pos_payment") -> IncidentOpened:
    return IncidentOpened(
        incident_id=incident_id, ref="P2-2026-11-031", fingerprint=f"manual:{incident_id}",
        severity="P2", title="扫码支付后小票不打印", entity="store-017", alert_id="m-1",
        opened_at=T0, respond_by=T0 + seconds(3600), resolve_by=T0 + seconds(72 * 3600),
        labels={"problem_type": problem_type} if problem_type else {}, reporter="li.na")


def tier_messages(app, incident_id: str) -> list[tuple[str, str]]:
    scheduled = [e for e in map(app.decode, app.recorder.select_notifications(1, 10000))
                 if isinstance(e, Delivery.Scheduled) and e.incident_id == incident_id
                 and e.reason == "support.tier"]
    return [(e.about["tier"], e.recipient["handle"]) for e in scheduled]


def entered(app) -> list[SupportTierEntered]:
    return [c for c in map(to_contract, map(app.decode, app.recorder.select_notifications(1, 10000)))
            if isinstance(c, SupportTierEntered)]


def test_a_type_is_routed_to_its_l1_group_whose_on_call_person_is_told_and_responsible(app):
    desk(app)
    app.handle_incident_opened(*_with_tracking(opened("inc-s1"), 1))
    app.handle_incident_opened(*_with_tracking(opened("inc-s1"), 2))  # published again
    assert tier_messages(app, "inc-s1") == [("L1", "li.na")]
    [tier] = entered(app)
    assert (tier.tier, tier.group, tier.team, tier.responsible, tier.next_tier, tier.why) == (
        "L1", "pos-l1", "一线", "li.na", "L2", "routed")
    assert tier.due_at == T0 + seconds(1800)
    box = app.repository.get(deadline_id("inc-s1", "tier:0"))
    assert box.kind == "tier" and box.due_at == T0 + seconds(1800)


def test_an_unknown_type_without_a_default_group_is_not_routed(app):
    desk(app)
    app.handle_incident_opened(*_with_tracking(opened("inc-s2", "舆情"), 1))
    assert app.get_or_none(SupportTicket.create_id("inc-s2")) is None


def test_time_boxes_run_out_into_l2_then_rnd_which_has_none(app):
    im = desk(app)
    app.handle_incident_opened(*_with_tracking(opened("inc-s3"), 1))
    app.clock.advance(timedelta(seconds=1440))  # 80 %: L1's Responsible is warned
    app.chase(deadline_id("inc-s3", "tier:0"), app.clock.now())
    assert app.get_or_none(SupportTicket.create_id("inc-s3")).level == 0
    assert app.get_or_none(Delivery.create_id("inc-s3", "late.tier.warning", im,
                                              {"handle": "li.na"}, "tier:0")) is not None
    app.clock.advance(timedelta(seconds=360))
    app.chase(deadline_id("inc-s3", "tier:0"), app.clock.now())
    l1 = app.repository.get(deadline_id("inc-s3", "tier:0"))
    assert l1.status is DeadlineStatus.MET and "escalated to L2" in l1.met_why
    app.clock.advance(timedelta(seconds=7200))
    for _ in ("warning", "deadline"):  # both due by now: the warning fires first
        app.chase(deadline_id("inc-s3", "tier:1"), app.clock.now())
    assert tier_messages(app, "inc-s3") == [("L1", "li.na"), ("L2", "zhou.min"),
                                            ("R&D", "zhao.lei")]
    assert [(t.tier, t.why, t.responsible) for t in entered(app)] == [
        ("L1", "routed", "li.na"), ("L2", "time box", "zhou.min"), ("R&D", "time box", "zhao.lei")]
    assert app.get_or_none(deadline_id("inc-s3", "tier:2")) is None  # R&D has no time box


def test_a_hand_over_meets_the_time_box_and_passes_the_package_to_the_next_tier(app):
    desk(app)
    app.handle_incident_opened(*_with_tracking(opened("inc-s4"), 1))
    handed = IncidentHandedOver(
        incident_id="inc-s4", ref="P2-2026-11-031", from_tier="L1", by="li.na",
        logs=["https://logs.example.cn/x"], reproduction="扫码支付", impact="3 台收银机",
        at=T0 + seconds(600))
    app.handle_incident_handed_over(*_with_tracking(handed, 2))
    app.handle_incident_handed_over(*_with_tracking(handed, 3))  # a second click, another id
    assert app.repository.get(deadline_id("inc-s4", "tier:0")).status is DeadlineStatus.MET
    [(_, l2)] = [(t, t) for t in entered(app) if t.tier == "L2"]
    assert l2.why == "hand-over"
    [message] = [e for e in map(app.decode, app.recorder.select_notifications(1, 10000))
                 if isinstance(e, Delivery.Scheduled) and e.reason == "support.tier"
                 and e.about["tier"] == "L2"]
    assert message.about["package"]["reproduction"] == "扫码支付"


def test_resolution_ends_the_climb_and_sends_the_requester_a_scoring_link(app):
    im = desk(app)
    app.page_links = PageLinks(AckLinks(KEY), "https://cl.example.cn", timedelta(hours=24))
    app.handle_incident_opened(*_with_tracking(opened("inc-s5"), 1))
    app.handle_incident_followed(*_with_tracking(IncidentFollowed(
        incident_id="inc-s5", ref="P2-2026-11-031", person="li.na", by="li.na",
        via="reporter", at=T0), 2))
    app.handle_incident_resolved(*_with_tracking(IncidentResolved(
        incident_id="inc-s5", ref="P2-2026-11-031", severity="P2", title="t",
        entity="store-017", by="zhou.min", at=T0 + seconds(900)), 3))
    assert app.get_or_none(SupportTicket.create_id("inc-s5")).over
    assert app.repository.get(deadline_id("inc-s5", "tier:0")).status is DeadlineStatus.MET
    score = app.get_or_none(Delivery.create_id("inc-s5", "support.score", im, {"handle": "li.na"}))
    assert score is not None
    url = app.page_links.url_for(score, T0 + seconds(900))
    token = url.removeprefix("https://cl.example.cn/v1/score/")
    claims = AckLinks(KEY, salt=SCORE_SALT).verify(token, T0 + seconds(901))
    assert (claims.incident_id, claims.person) == ("inc-s5", "li.na")


@pytest.mark.parametrize("change, field", [
    ({"tiers": []}, "tiers"),
    ({"tiers": [{"name": "L1", "time_box_seconds": -5}, {"name": "L2"}, {"name": "R&D"}]},
     "tiers[0].time_box_seconds"),
    ({"types": {"pos_payment": "pos-l2"}}, "types.pos_payment"),
    ({"groups": {**DESK["groups"], "pos-l1": {"tier": "L1", "team": "nobody",
                                               "escalates_to": "pos-l2"}}}, "groups.pos-l1.team"),
    ({"groups": {**DESK["groups"], "pos-l1": {"tier": "L1", "team": "一线",
                                               "escalates_to": "rnd"}}},
     "groups.pos-l1.escalates_to"),
    ({"default_group": "rnd"}, "default_group"),
])
def test_a_bad_desk_is_refused_naming_the_field(app, change, field):
    desk(app)
    with pytest.raises(InvalidSupport) as refused:
        app.define_support({**DESK, **change}, "mgr", CAUSE)
    assert refused.value.field == field


def test_a_deadline_of_kind_tier_is_a_plain_deadline_to_the_chase(app):
    desk(app)
    app.handle_incident_opened(*_with_tracking(opened("inc-s6"), 1))
    assert isinstance(app.repository.get(deadline_id("inc-s6", "tier:0")), Deadline)
