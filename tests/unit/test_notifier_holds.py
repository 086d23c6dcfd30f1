"""Who is told when an incident opens: routes choose policies from its labels; silences,
maintenance windows, inhibitions and trial mode hold its notifications (recorded, nobody
told), and when a hold ends while the incident is still open, step 0 is told then and the
ladder counts from the release. In memory, on a ManualClock."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.notifier.domain import Delivery, Escalation, EscalationStatus
from services.notifier.holds.decision import Firing, hold_at, labels_of, recheck_at
from services.notifier.holds.opening import (
    Opening, OpeningMoved, OpeningNotHeld, OpeningStatus,
)
from services.notifier.quiet.cache import QuietRules
from services.notifier.quiet.inhibitions import InhibitionRule
from services.notifier.translate import to_contract
from shared.contracts import (
    CloudEvent, IncidentOpened, IncidentResolved, NotificationsHeld, NotificationsReleased,
)
from shared.store import Tracking
from tests.unit.test_notifier_domain import CAUSE, T0, app, seconds, setup_routing  # noqa: F401

STORE = {"store": "sz-baoan", "alertname": "StoreOffline", "entity": "store-042"}


def opened(incident_id: str, labels: dict | None = None, trial: bool = False,
           severity: str = "P0", seq: int = 1):
    contract = IncidentOpened(
        incident_id=incident_id, ref=f"{severity}-2026-11-{seq:03d}", fingerprint=incident_id,
        severity=severity, title="store offline", entity="store-042", alert_id=f"a-{seq}",
        opened_at=T0, respond_by=T0 + seconds(900), resolve_by=T0 + seconds(3600),
        labels={**STORE, **(labels or {}), "severity": severity}, trial=trial)
    envelope = CloudEvent(id=f"incidents:{seq}", source="closedloop/incidents",
                          type=IncidentOpened.type_name(), time=T0,
                          data=contract.model_dump(mode="json"))
    return envelope, contract, Tracking("INCIDENTS", seq)


def step0(app, incident_id: str, channel: str) -> Delivery | None:
    return app.get_or_none(Delivery.create_id(incident_id, "incident.opened", channel))


def published(app, incident_id: str) -> list:
    opening = app.get_or_none(Opening.create_id(incident_id))
    events = app.stored_events(opening.id) if opening else []
    return [c for c in map(to_contract, events) if c is not None]


def silence(app, minutes: float = 30, matchers: str = 'store=~"sz-.*"') -> dict:
    return app.create_silence(matchers=matchers, starts_at=T0,
                              ends_at=T0 + timedelta(minutes=minutes), comment="store refit",
                              actor="li.na", cause=CAUSE)


def release(app, incident_id: str) -> str:
    version = app.get_or_none(Opening.create_id(incident_id)).version
    return app.release_held(incident_id, version, app.clock.now())


def test_with_no_quiet_rule_step0_is_told_at_once_and_the_routes_are_recorded(app):
    oncall, _ = setup_routing(app)
    app.handle_incident_opened(*opened("inc-1"))
    assert step0(app, "inc-1", oncall) is not None
    opening = app.opening("inc-1")
    assert opening["status"] == "told" and opening["labels"]["store"] == "sz-baoan"
    assert [r["policies"] for r in opening["routes"]] == [["critical"]]
    assert published(app, "inc-1") == []  # nothing held, nothing to say


def test_a_route_tree_sends_stores_to_their_own_policy(app):
    oncall, managers = setup_routing(app)
    app.define_policy(name="stores", severities=["P2"], notify=[managers],
                      escalate_after_seconds=60, escalate_to=[], actor="mgr", cause=CAUSE)
    app.define_routes({"routes": [{"matchers": ['store=~"sz-.*"'], "receiver": "stores"}]},
                      "mgr", CAUSE)
    app.handle_incident_opened(*opened("inc-sz"))
    app.handle_incident_opened(*opened("inc-bj", {"store": "bj-chaoyang"}, seq=2))
    # Named by the tree, the stores policy takes a P0 although it covers only P2.
    assert step0(app, "inc-sz", managers) is not None and step0(app, "inc-sz", oncall) is None
    assert step0(app, "inc-bj", oncall) is not None and step0(app, "inc-bj", managers) is None
    [route] = app.opening("inc-sz")["routes"]
    assert (route["route"], route["receiver"], route["policies"]) == (
        "root.routes[0]", "stores", ["stores"])


def test_a_silence_holds_step0_then_releases_it_when_it_ends_and_the_ladder_counts_from_then(app):
    oncall, _ = setup_routing(app)
    held_by = silence(app, minutes=30)
    app.handle_incident_opened(*opened("inc-2"))

    assert step0(app, "inc-2", oncall) is None
    assert app.get_or_none(Escalation.create_id("inc-2")) is None
    opening = app.get_or_none(Opening.create_id("inc-2"))
    assert opening.status is OpeningStatus.HELD
    assert opening.hold["kind"] == "silence" and opening.hold["id"] == str(held_by["id"])
    assert opening.recheck_at == T0 + timedelta(minutes=30)

    assert "still held" in release(app, "inc-2")  # looked at early: the silence still holds
    app.clock.advance(timedelta(minutes=30))
    assert release(app, "inc-2") == "released"
    assert step0(app, "inc-2", oncall) is not None
    escalation = app.get_or_none(Escalation.create_id("inc-2"))
    assert escalation.due_at == T0 + timedelta(minutes=30) + seconds(60)  # from the release

    held, again, released = published(app, "inc-2")
    assert isinstance(held, NotificationsHeld) and held.kind == "silence"
    assert held.name == "store refit" and held.until == T0 + timedelta(minutes=30)
    assert isinstance(again, NotificationsHeld)
    assert isinstance(released, NotificationsReleased)
    assert released.held_seconds == 1800 and released.policies == ["critical"]
    with pytest.raises(OpeningNotHeld):
        release(app, "inc-2")  # released once


def test_a_hold_resolved_meanwhile_is_dropped_and_never_released(app):
    oncall, _ = setup_routing(app)
    silence(app)
    app.handle_incident_opened(*opened("inc-3"))
    resolved = IncidentResolved(incident_id="inc-3", ref="P0-2026-11-001", severity="P0",
                                title="store offline", entity="store-042", by="li.na", at=T0)
    app.handle_incident_resolved(
        CloudEvent(id="incidents:9", source="closedloop/incidents", type=resolved.type_name(),
                   time=T0, data=resolved.model_dump(mode="json")),
        resolved, Tracking("INCIDENTS", 9))
    opening = app.get_or_none(Opening.create_id("inc-3"))
    assert opening.status is OpeningStatus.DROPPED and not opening.firing
    app.clock.advance(timedelta(hours=1))
    with pytest.raises(OpeningNotHeld):
        release(app, "inc-3")
    assert step0(app, "inc-3", oncall) is None


def test_a_maintenance_window_holds_until_it_closes(app):
    oncall, _ = setup_routing(app)  # T0 is Monday 09:00 UTC, 17:00 in Shanghai
    app.define_rule("window", {"name": "store-evening", "matchers": ['store=~"sz-.*"'],
                               "time_zone": "Asia/Shanghai", "days": ["mon"], "start": "16:30",
                               "duration_minutes": 60}, "mgr", CAUSE)
    app.handle_incident_opened(*opened("inc-4"))
    opening = app.get_or_none(Opening.create_id("inc-4"))
    assert opening.hold["kind"] == "maintenance" and opening.hold["name"] == "store-evening"
    assert opening.recheck_at == T0 + timedelta(minutes=30)
    app.clock.advance(timedelta(minutes=30))
    assert release(app, "inc-4") == "released" and step0(app, "inc-4", oncall) is not None


def test_trial_mode_holds_for_good_and_says_so(app):
    oncall, _ = setup_routing(app)
    app.handle_incident_opened(*opened("inc-5", trial=True))
    opening = app.get_or_none(Opening.create_id("inc-5"))
    assert opening.status is OpeningStatus.TRIAL and opening.recheck_at is None
    assert not opening.firing  # a trial alert inhibits nothing
    [held] = published(app, "inc-5")
    assert held.kind == "trial" and held.until is None and held.hold_id is None
    app.clock.advance(timedelta(days=1))
    with pytest.raises(OpeningNotHeld):
        release(app, "inc-5")
    assert step0(app, "inc-5", oncall) is None


def test_a_redelivered_held_opening_still_tells_nobody(app):
    oncall, _ = setup_routing(app)
    created = silence(app)
    app.handle_incident_opened(*opened("inc-6"))
    app.expire_silence(created["id"], "li.na", CAUSE)
    envelope, contract, _ = opened("inc-6")
    app.handle_incident_opened(envelope, contract, Tracking("INCIDENTS", 2))
    assert step0(app, "inc-6", oncall) is None  # the first decision stands; the worker releases


def test_a_look_at_a_version_the_opening_has_left_is_refused(app):
    setup_routing(app)
    silence(app)
    app.handle_incident_opened(*opened("inc-7"))
    version = app.get_or_none(Opening.create_id("inc-7")).version
    app.release_held("inc-7", version, T0)  # still held: recorded again
    with pytest.raises(OpeningMoved):  # another replica read the same row
        app.release_held("inc-7", version, T0)


def test_an_acknowledged_hold_is_dropped_when_it_would_have_been_released(app):
    from shared.contracts import IncidentAcknowledged
    oncall, _ = setup_routing(app)
    silence(app, minutes=10)
    app.handle_incident_opened(*opened("inc-8"))
    ack = IncidentAcknowledged(incident_id="inc-8", ref="P0-2026-11-001", by="li.na", at=T0)
    app.handle_incident_acknowledged(
        CloudEvent(id="incidents:5", source="closedloop/incidents", type=ack.type_name(),
                   time=T0, data=ack.model_dump(mode="json")), ack, Tracking("INCIDENTS", 5))
    app.clock.advance(timedelta(minutes=10))
    assert release(app, "inc-8").startswith("dropped: acknowledged by li.na")
    assert step0(app, "inc-8", oncall) is None
    assert app.get_or_none(Opening.create_id("inc-8")).firing  # it still fires


# -- the decision itself ----------------------------------------------------------------------

def inhibition(**spec) -> QuietRules:
    rule = InhibitionRule.define(InhibitionRule.normalised(**spec), T0, "mgr", CAUSE)
    return QuietRules(aggregates={rule.id: rule})


def test_an_inhibition_names_the_firing_incident_that_holds_the_alert():
    rules = inhibition(name="store-down", source_matchers=["alertname=StoreOffline"],
                       target_matchers=['severity=~"P2|P3"'], equal=["store"])
    target = {"alertname": "CheckoutSlow", "store": "sz-baoan", "severity": "P2"}
    down = Firing("inc-src", "P1-2026-11-004", {"alertname": "StoreOffline",
                                                 "store": "sz-baoan", "severity": "P1"})
    elsewhere = Firing("inc-bj", "P1-2026-11-005", {"alertname": "StoreOffline",
                                                     "store": "bj-chaoyang", "severity": "P1"})
    hold = hold_at(target, T0, rules, [elsewhere, down])
    assert hold["kind"] == "inhibition" and hold["name"] == "store-down"
    assert (hold["source_incident_id"], hold["source_ref"]) == ("inc-src", "P1-2026-11-004")
    assert hold["until"] is None and recheck_at(hold) is None  # ends with its source
    assert hold_at(target, T0, rules, [elsewhere]) is None
    assert hold_at({**target, "severity": "P0"}, T0, rules, [down]) is None  # not a target


def test_labels_carry_the_incident_severity_and_entity_even_from_an_older_sender():
    _, contract, _ = opened("inc-9", {"severity": "critical"})
    assert labels_of(contract)["severity"] == "P0"
    older = contract.model_copy(update={"labels": {}})
    assert labels_of(older) == {"entity": "store-042", "severity": "P0"}


def test_escalation_after_a_release_climbs_as_usual(app):
    oncall, managers = setup_routing(app)
    silence(app, minutes=5)
    app.handle_incident_opened(*opened("inc-10"))
    app.clock.advance(timedelta(minutes=5))
    release(app, "inc-10")
    app.clock.advance(seconds(60))
    [delivery_id] = app.escalate("inc-10", app.clock.now())
    assert app.get_or_none(Escalation.create_id("inc-10")).status is EscalationStatus.ESCALATED
    assert delivery_id == str(Delivery.create_id("inc-10", "escalation.step1", managers))


def test_an_incident_resolved_before_its_opening_arrived_does_not_fire(app):
    setup_routing(app)
    resolved = IncidentResolved(incident_id="inc-11", ref="P0-2026-11-001", severity="P0",
                                title="store offline", entity="store-042", by="li.na", at=T0)
    app.handle_incident_resolved(
        CloudEvent(id="incidents:3", source="closedloop/incidents", type=resolved.type_name(),
                   time=T0, data=resolved.model_dump(mode="json")),
        resolved, Tracking("INCIDENTS", 3))
    app.handle_incident_opened(*opened("inc-11", seq=4))
    assert not app.get_or_none(Opening.create_id("inc-11")).firing  # inhibits nothing
