"""Support tiers on the incident: the notifier's routing makes the tier's on-call person
Responsible, a hand-over needs the whole handover package (交接标准) and goes to the next
tier, and the requester scores the help once, after resolution, through a signed link."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.ack_links import SCORE_SALT, SALT, AckLinkRefused, AckLinks
from shared.contracts import IncidentHandedOver, IncidentRoleAssigned, SupportTierEntered
from shared.errors import Invalid

from services.incidents.domain import LinkAlreadyUsed, RaciRole
from services.incidents.domain.tiers import LastTier, NotInATier, NotResolvedYet
from services.incidents.timeline import timeline_of
from services.incidents.translate import to_contract
from tests.unit.test_incidents_domain import CAUSE, T0, Feed, open_incident

PACKAGE = {"logs": ["https://logs.example.cn/pos/bn-3"], "reproduction": "扫码支付后小票不打印",
           "impact": "深圳宝安店 3 台收银机"}
KEY = "k" * 40


def later(minutes: float):
    return T0 + timedelta(minutes=minutes)


def routed(incident, tier="L1", responsible="li.na", next_tier="L2", why="routed", at=1):
    return incident.enter_tier(tier, f"pos-{tier.lower()}", f"{tier} desk", why, responsible,
                               next_tier, later(at + 30), later(at), "notifier", CAUSE)


def test_routing_makes_the_tiers_on_call_person_responsible_and_a_redelivery_changes_nothing():
    incident = open_incident()
    assert routed(incident)
    assert incident.raci[RaciRole.RESPONSIBLE] == ["li.na"] and incident.tier == "L1"
    assert not routed(incident)  # the same tier again: a redelivered message
    [assigned] = [to_contract(e) for e in incident.collect_events()
                  if isinstance(to_contract(e), IncidentRoleAssigned)]
    assert (assigned.person, assigned.via) == ("li.na", "tier")


def test_escalation_replaces_the_responsible_with_the_next_tiers():
    incident = open_incident()
    routed(incident)
    routed(incident, "L2", "zhou.min", "R&D", "time box", at=31)
    assert incident.raci[RaciRole.RESPONSIBLE] == ["zhou.min"]
    assert (incident.tier, incident.next_tier) == ("L2", "R&D")
    lines = [e["detail"] for e in timeline_of(incident.collect_events())]
    assert any(line.startswith("escalated on time to L2 (pos-l2, team L2 desk): zhou.min")
               for line in lines)


@pytest.mark.parametrize("missing, field", [
    ("logs", "package.logs"), ("reproduction", "package.reproduction"),
    ("impact", "package.impact")])
def test_a_hand_over_without_its_whole_package_is_refused_naming_the_missing_part(missing, field):
    incident = open_incident()
    routed(incident)
    incident.collect_events()
    package = {**PACKAGE, missing: [] if missing == "logs" else "  "}
    with pytest.raises(Invalid) as refused:
        incident.hand_over(package, "li.na", "", later(5), CAUSE)
    assert refused.value.field == field
    assert incident.collect_events() == []  # nothing half-recorded


def test_a_hand_over_carries_the_package_to_the_bus_and_the_timeline():
    incident = open_incident(ref="P0-2026-11-001")
    routed(incident)
    incident.hand_over(PACKAGE, "li.na", "重启无效", later(5), CAUSE)
    events = incident.collect_events()
    [handed] = [c for c in map(to_contract, events) if isinstance(c, IncidentHandedOver)]
    assert (handed.from_tier, handed.logs, handed.impact) == ("L1", PACKAGE["logs"],
                                                               PACKAGE["impact"])
    line = timeline_of(events)[-1]
    assert line["action"] == "handed over"
    assert "from L1 to L2" in line["detail"] and "扫码支付后小票不打印" in line["detail"]


def test_an_incident_in_no_tier_the_last_one_or_resolved_cannot_be_handed_over():
    incident = open_incident()
    with pytest.raises(NotInATier, match="not routed to a support tier"):
        incident.hand_over(PACKAGE, "li.na", "", later(5), CAUSE)
    routed(incident, "R&D", "wu.fan", None)
    with pytest.raises(LastTier, match="R&D is the last support tier"):
        incident.hand_over(PACKAGE, "wu.fan", "", later(5), CAUSE)
    resolved = open_incident()
    routed(resolved)
    resolved.resolve("li.na", "done", later(6), "li.na", CAUSE)
    with pytest.raises(NotInATier, match="it is resolved; reopen it first"):
        resolved.hand_over(PACKAGE, "li.na", "", later(7), CAUSE)


def test_the_requester_scores_once_after_resolution():
    incident = open_incident()
    with pytest.raises(NotResolvedYet):
        incident.rate("link-1", "wang.fang", 5, "", later(5), CAUSE)
    incident.resolve("li.na", "换了打印机驱动", later(30), "li.na", CAUSE)
    with pytest.raises(Invalid) as refused:
        incident.rate("link-1", "wang.fang", 6, "", later(31), CAUSE)
    assert refused.value.field == "score"
    incident.rate("link-1", "wang.fang", 4, " 处理及时 ", later(31), CAUSE)
    assert incident.score["score"] == 4 and incident.score["comment"] == "处理及时"
    with pytest.raises(LinkAlreadyUsed, match="satisfaction link .* already used"):
        incident.rate("link-1", "wang.fang", 1, "", later(32), CAUSE)
    assert timeline_of(incident.collect_events())[-1]["detail"] == (
        "wang.fang (the requester) scored the help 4/5: 处理及时")


def test_a_satisfaction_link_is_no_acknowledge_link_and_the_other_way_round():
    scores, acks = AckLinks(KEY, salt=SCORE_SALT), AckLinks(KEY, salt=SALT)
    token = scores.mint(incident_id="i-1", person="wang.fang", delivery_id="d-1",
                        expires_at=later(60))
    assert scores.verify(token, later(1)).person == "wang.fang"
    with pytest.raises(AckLinkRefused):
        acks.verify(token, later(1))
    with pytest.raises(AckLinkRefused):
        scores.verify(acks.mint(incident_id="i-1", person="p", delivery_id="d",
                                expires_at=later(60)), later(1))


def test_the_application_records_the_notifiers_tier_and_hands_over(store_env):
    feed = Feed(store_env)
    feed.raise_alert("a-1")
    [incident_id] = feed.incident_ids()
    fact = SupportTierEntered(incident_id=incident_id, ref="x", tier="L1", group="pos-l1",
                              team="L1 desk", why="routed", responsible="li.na",
                              on_call=["li.na"], next_tier="L2", at=T0)
    feed.send(feed.app.handle_support_tier_entered, fact)
    feed.send(feed.app.handle_support_tier_entered, fact)  # redelivered
    state = feed.app.incident(incident_id)
    assert state["support"]["tier"] == "L1" and state["raci"]["responsible"] == ["li.na"]
    assert [e["action"] for e in state["timeline"]].count("support tier") == 1
    done = feed.app.hand_over(incident_id, PACKAGE, "li.na", "", CAUSE)
    assert done["support"]["handovers"] == 1


def test_the_score_page_escapes_what_it_shows_and_its_form_posts_urlencoded_fields():
    from types import SimpleNamespace

    from services.incidents.score_html import score_form
    from services.incidents.tier_api import _fields
    page = score_form(SimpleNamespace(
        incident={"ref": "P2-2026-11-031", "title": "<b>小票</b>", "entity": "store-017",
                  "status_label": "方案制定中"}, person="sun.hao", expires_at=later(60)))
    assert "&lt;b&gt;小票&lt;/b&gt;" in page and "<script" not in page
    assert page.count('type="radio" name="score"') == 5
    form = SimpleNamespace(headers={"content-type": "application/x-www-form-urlencoded"})
    assert _fields("score=4&comment=%E5%BE%88%E5%A5%BD".encode(), form) == {
        "score": "4", "comment": "很好"}
    as_json = SimpleNamespace(headers={"content-type": "application/json"})
    assert _fields(b"not json", as_json) == {"score": None}
