"""举一反三 — the same problem elsewhere, one story per test on the injected clock: alerts heard
on three stores, a case for one, its root cause recorded → the two peer stores are listed with
why, and one preventive action each is planned in one step with its own owner and verifier."""
from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, datetime, timedelta, timezone

import pytest

from services.capa.app import CapaApplication
from services.capa.consumer import subscriptions
from services.capa.domain import CapaCase, InvalidCapaInput
from services.capa.domain.errors import NotTheVerifier
from services.capa.domain.spread import (
    AtRisk, Cause, RootCauseMissing, Sighting, Subject, at_risk, render,
)
from services.capa.peers.commands import Peers, class_labels_of
from services.capa.peers.sighting import AlertSighting
from services.capa.translate import to_contract
from shared.clock import ManualClock
from shared.contracts import AlertRaised, CapaActionAdded, CloudEvent, IncidentResolved
from shared.store import Tracking

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "req-1", "trace": {}}
EAST = {"region": "east", "format": "hypermarket"}
LABELS = ["region", "format"]


class Story:
    """The capa application on the in-memory store, fed the messages the loop would send."""

    def __init__(self, store_env: dict[str, str]) -> None:
        self.clock = ManualClock(T0)
        self.app = CapaApplication(store_env, self.clock)
        self.peers = Peers(self.app, LABELS, timedelta(days=30))
        detector = next(s for s in subscriptions(self.app) if s.stream == "DETECTOR")
        self.on_alert = detector.handlers[AlertRaised]
        self.sequence = 0
        self.alert_ids: list[str] = []

    def deliver(self, contract, handler) -> None:
        self.sequence += 1
        envelope = CloudEvent(id=f"{contract.PRODUCER}:{self.sequence}",
                              source=f"closedloop/{contract.PRODUCER}",
                              type=contract.type_name(), time=self.clock.now(),
                              data=contract.model_dump(mode="json"))
        handler(envelope, contract, Tracking(contract.PRODUCER.upper(), self.sequence))

    def alert(self, entity: str, rule: str = "queue-wait", trial: bool = False,
              **labels: str) -> str:
        alert_id = f"al-{uuid.uuid4()}"
        self.deliver(AlertRaised(
            alert_id=alert_id, fingerprint=f"{rule}:{entity}", source="rule", rule_id=rule,
            name="Checkout queue wait", entity=entity, labels={"entity": entity, **labels},
            severity="P2", value=9.5, threshold=6.0, started_at=self.clock.now(), trial=trial),
            self.on_alert)
        self.alert_ids.append(alert_id)
        return alert_id

    def sightings(self) -> list[Sighting]:
        """What the projection holds: every sighting capa saved."""
        found = [self.app.get_or_none(AlertSighting.create_id(a)) for a in self.alert_ids]
        return [Sighting(s.rule, s.name, s.entity, s.labels, s.started_at)
                for s in found if s is not None]

    def case_for(self, entity: str, rule: str = "queue-wait") -> uuid.UUID:
        incident_id = f"inc-{uuid.uuid4()}"
        self.deliver(IncidentResolved(
            incident_id=incident_id, ref="P2-2026-12-007", severity="P2",
            title="Checkout queue wait", entity=entity, by="Li Wei", summary="tills reopened",
            at=self.clock.now(), fingerprint=f"{rule}:{entity}"), self.app.handle_incident_resolved)
        return CapaCase.create_id(incident_id)

    def root_cause(self, capa_id: uuid.UUID, category: str = "method") -> None:
        self.app.record_root_cause(
            capa_id, by="Zhang Min", cause=CAUSE, method="fishbone", category=category,
            statement="the weekend rota ignores the footfall forecast", whys=[],
            contributing_factors=[])

    def listed(self, capa_id: uuid.UUID, causes: list[Cause] = ()) -> list[AtRisk]:
        case = self.app.case(capa_id)
        subject = Subject(case["entity"], EAST, "queue-wait",
                          (case["root_cause"] or {}).get("category"))
        return at_risk(subject, self.sightings(), causes, LABELS,
                       self.clock.now() - timedelta(days=30))


@pytest.fixture
def story(store_env) -> Story:
    return Story(store_env)


def test_the_same_problem_elsewhere_lists_two_peer_stores_and_plans_their_actions(story):
    story.alert("store-042", **EAST)
    story.clock.advance(timedelta(hours=2))
    story.alert("store-017", **EAST)
    story.clock.advance(timedelta(days=3))
    story.alert("store-233", region="east", format="convenience")
    story.alert("store-900", region="west", format="convenience")  # shares no class label
    capa_id = story.case_for("store-042")
    story.clock.advance(timedelta(hours=1))
    story.root_cause(capa_id)

    peers = story.listed(capa_id)

    assert [p.entity for p in peers] == ["store-233", "store-017"]  # most recent first
    assert peers[0].shared == {"region": "east"}
    assert peers[0].reasons == [
        "shares region=east with store-042",
        "rule Checkout queue wait fired here at 2026-12-04 11:00 UTC"]
    assert peers[1].shared == EAST

    items = [{**asdict(p), "action_id": None} for p in peers]
    planned = story.peers.spread(
        capa_id, items, entities=None, owner="Wang Fang", owners={"store-017": "Chen Jie"},
        verifier="Zhang Min", due_date=date(2026, 12, 20),
        title="举一反三 {ref}: check {entity}", acceptance_criteria="{entity}: {root_cause}",
        by="Zhang Min", cause=CAUSE)

    assert [(a["id"], a["entity"], a["owner"], a["assigned_verifier"], a["kind"], a["title"])
            for a in planned["planned"]] == [
        ("A-1", "store-233", "Wang Fang", "Zhang Min", "preventive",
         "举一反三 P2-2026-12-007: check store-233"),
        ("A-2", "store-017", "Chen Jie", "Zhang Min", "preventive",
         "举一反三 P2-2026-12-007: check store-017")]
    assert planned["planned"][1]["acceptance_criteria"] == (
        "store-017: the weekend rota ignores the footfall forecast")
    history = story.app.history(capa_id)
    assert [(h["event"], h["actor"]) for h in history[-2:]] == [("ActionAdded", "Zhang Min")] * 2

    # The rest of the loop hears which peer each action protects and who verifies it.
    added = [to_contract(e) for e in story.app.stored_events(capa_id)
             if type(e).__name__ == "ActionAdded"]
    assert all(isinstance(c, CapaActionAdded) for c in added)
    assert [(c.entity, c.verifier) for c in added] == [("store-233", "Zhang Min"),
                                                      ("store-017", "Zhang Min")]

    # Asked again, nothing is planned twice.
    again = story.peers.spread(
        capa_id, items, entities=None, owner="Wang Fang", owners={}, verifier="Zhang Min",
        due_date=date(2026, 12, 20), title="{entity}", acceptance_criteria="{entity}",
        by="Zhang Min", cause=CAUSE)
    assert again["planned"] == []
    assert again["skipped"] == [{"entity": "store-233", "action_id": "A-1"},
                                {"entity": "store-017", "action_id": "A-2"}]


def test_only_the_named_verifier_verifies_a_spread_action(story):
    story.alert("store-042", **EAST)
    story.alert("store-017", **EAST)
    capa_id = story.case_for("store-042")
    story.root_cause(capa_id)
    items = [{**asdict(p), "action_id": None} for p in story.listed(capa_id)]
    story.peers.spread(capa_id, items, entities=["store-017"], owner="Chen Jie", owners={},
                       verifier="Zhang Min", due_date=date(2026, 12, 20), title="{entity}",
                       acceptance_criteria="{entity}", by="Zhang Min", cause=CAUSE)
    story.app.complete_action(capa_id, "A-1", by="Chen Jie", evidence="rota re-planned",
                              as_manager=False, cause=CAUSE)

    with pytest.raises(NotTheVerifier, match="to be verified by Zhang Min"):
        story.app.verify_action(capa_id, "A-1", verifier="Wang Fang", effective=True, note="",
                                cause=CAUSE)
    read = story.app.verify_action(capa_id, "A-1", verifier="Zhang Min", effective=True,
                                   note="checked", cause=CAUSE)
    assert read["actions"][0]["status"] == "verified"


def test_a_peer_with_a_root_cause_of_the_same_category_in_the_period_is_at_risk(story):
    capa_id = story.case_for("store-042")
    story.root_cause(capa_id, category="method")
    recent = Cause("P3-2026-11-090", "store-555", {"region": "east"}, "method",
                   T0 - timedelta(days=10))
    old = Cause("P3-2026-09-001", "store-556", {"region": "east"}, "method",
                T0 - timedelta(days=60))
    other_kind = Cause("P3-2026-11-091", "store-557", {"region": "east"}, "machine",
                       T0 - timedelta(days=1))

    peers = story.listed(capa_id, [recent, old, other_kind])

    assert [(p.entity, p.reasons) for p in peers] == [("store-555", [
        "shares region=east with store-042",
        "P3-2026-11-090 found a root cause of the same category (method) here on 2026-11-21"])]


def test_a_trial_rule_and_a_redelivered_alert_add_no_sighting(story):
    story.alert("store-017", trial=True, **EAST)
    assert story.sightings() == []
    alert_id = story.alert("store-017", **EAST)
    again = AlertRaised(alert_id=alert_id, fingerprint="queue-wait:store-017", source="rule",
                        rule_id="queue-wait", name="Checkout queue wait", entity="store-017",
                        labels=EAST, severity="P2", started_at=T0)
    story.deliver(again, story.on_alert)  # a new message for the same alert: nothing new
    assert len(story.app.stored_events(AlertSighting.create_id(alert_id))) == 1


def test_spread_refuses_what_it_cannot_plan(story):
    story.alert("store-017", **EAST)
    capa_id = story.case_for("store-042")
    with pytest.raises(RootCauseMissing):
        story.peers.spread(capa_id, [{"entity": "store-017"}], entities=None, owner="Chen Jie",
                           owners={}, verifier="Zhang Min", due_date=date(2026, 12, 20),
                           title="{entity}", acceptance_criteria="{entity}", by="Zhang Min",
                           cause=CAUSE)
    story.root_cause(capa_id)
    items = [{**asdict(p), "action_id": None} for p in story.listed(capa_id)]
    common = dict(verifier="Zhang Min", due_date=date(2026, 12, 20), title="{entity}",
                  acceptance_criteria="{entity}", by="Zhang Min", cause=CAUSE)
    with pytest.raises(InvalidCapaInput, match="store-999 not at risk"):
        story.peers.spread(capa_id, items, entities=["store-999"], owner="Chen Jie", owners={},
                           **common)
    with pytest.raises(InvalidCapaInput, match="name an owner for store-017"):
        story.peers.spread(capa_id, items, entities=None, owner=None, owners={}, **common)
    with pytest.raises(InvalidCapaInput, match="its verifier must be someone else"):
        story.peers.spread(capa_id, items, entities=None, owner="Zhang Min", owners={},
                           **common)
    with pytest.raises(InvalidCapaInput, match="title"):
        story.peers.spread(capa_id, items, entities=None, owner="Chen Jie", owners={},
                           **{**common, "title": "{store}"})
    assert story.app.case(capa_id)["actions"] == []


def test_class_labels_come_from_a_comma_separated_setting():
    assert class_labels_of(" region, format ,,") == ["region", "format"]
    assert render("{entity} {{ok}}", "title", entity="s1", root_cause="", ref="") == "s1 {ok}"
