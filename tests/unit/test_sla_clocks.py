"""The SLA clocks on an incident: a policy's deadlines on the opening, the at-risk warning
once before the breach, the closure clock after the resolution, and the pause while the
incident awaits its requester (in-memory store, ManualClock)."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.contracts import (
    AlertRaised, IncidentSlaAtRisk, IncidentSlaPaused, IncidentSlaResumed,
)

from services.incidents.app import IncidentsApplication
from services.incidents.domain import Incident, Severity
from services.incidents.domain.errors import NotPaused, SlaAlreadyPaused
from services.incidents.sla_policies import load_policies
from services.incidents.timeline import timeline_of
from services.incidents.translate import to_contract
from tests.unit.test_incidents_domain import CAUSE, T0, Feed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sla"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # T0 is Monday 2026-11-02 17:00 there


class PolicyFeed(Feed):
    def __init__(self, env: dict[str, str], policy_file: str) -> None:
        super().__init__(env)
        self.app = IncidentsApplication(env, self.clock,
                                       sla_policies=load_policies(EXAMPLES / policy_file))

    def at(self, when: datetime) -> None:
        self.clock.advance(when - self.clock.now())

    def watch(self, ref: str) -> list[str]:
        return self.app.record_sla_breaches(self.app._id_of(ref))

    def actions(self, ref: str) -> list[str]:
        return [e["action"] for e in self.app.incident(ref)["timeline"]]


@pytest.fixture
def retail(store_env):
    return PolicyFeed(store_env, "retail-stores.yaml")


@pytest.fixture
def desk(store_env):
    return PolicyFeed(store_env, "it-support.yaml")


def test_the_policy_sets_the_deadlines_and_at_risk_is_warned_once_before_the_breach(retail):
    retail.raise_alert("a-1")
    incident = retail.app.incident("P0-2026-11-001")
    assert incident["respond_by"] == T0 + timedelta(hours=1)  # seed 001: P0 respond in 1 h
    assert incident["at_risk_by"]["respond"] == T0 + timedelta(minutes=45)
    assert incident["sla_policy"] == "P0"
    retail.at(T0 + timedelta(minutes=44))
    assert retail.watch("P0-2026-11-001") == []
    retail.at(T0 + timedelta(minutes=46))
    assert retail.watch("P0-2026-11-001") == ["respond.at_risk"]
    assert retail.app.incident("P0-2026-11-001")["at_risk"] == ["respond"]
    assert retail.watch("P0-2026-11-001") == []  # once
    retail.at(T0 + timedelta(minutes=61))
    assert retail.watch("P0-2026-11-001") == ["respond"]
    after = retail.app.incident("P0-2026-11-001")
    assert (after["at_risk"], after["sla_breaches"]) == ([], ["respond"])
    assert retail.actions("P0-2026-11-001").count("SLA at risk") == 1


def test_the_at_risk_warning_reaches_the_bus_with_the_responsible(retail):
    retail.raise_alert("a-1")
    retail.app.assign("P0-2026-11-001", "responsible", "zhang.wei", "li.na", CAUSE)
    retail.at(T0 + timedelta(minutes=50))
    retail.watch("P0-2026-11-001")
    events = retail.app.stored_events(retail.app._id_of("P0-2026-11-001"))
    [warned] = [e for e in events if isinstance(e, Incident.SlaAtRisk)]
    contract = to_contract(warned)
    assert isinstance(contract, IncidentSlaAtRisk)
    assert (contract.kind, contract.responsible, contract.deadline) == (
        "respond", ["zhang.wei"], T0 + timedelta(hours=1))
    [line] = [t for t in timeline_of(events) if t["action"] == "SLA at risk"]
    assert line["detail"] == ("P0 respond SLA at risk: 10 min left to acknowledge "
                              "(by 2026-11-02 10:00 UTC)")


def test_a_met_deadline_is_never_at_risk(retail):
    retail.raise_alert("a-1")
    retail.app.acknowledge("P0-2026-11-001", "zhang.wei", "", CAUSE)
    retail.at(T0 + timedelta(minutes=50))
    assert retail.watch("P0-2026-11-001") == []


def test_the_closure_clock_starts_on_resolution_and_is_missed_like_the_others(retail):
    retail.raise_alert("a-1")
    retail.at(T0 + timedelta(minutes=30))
    retail.app.resolve("P0-2026-11-001", "zhang.wei", "restarted", CAUSE)
    resolved = retail.app.incident("P0-2026-11-001")
    assert resolved["close_by"] == T0 + timedelta(minutes=30, days=30)
    assert "closure clock started" in retail.actions("P0-2026-11-001")
    retail.at(T0 + timedelta(minutes=30, days=23))
    assert retail.watch("P0-2026-11-001") == ["close.at_risk"]
    retail.at(T0 + timedelta(minutes=31, days=30))
    assert retail.watch("P0-2026-11-001") == ["close"]
    assert retail.app.incident("P0-2026-11-001")["sla_breaches"] == ["close"]


def test_without_a_closure_target_nothing_is_started(store_env):
    feed = Feed(store_env)  # the shipped defaults
    feed.raise_alert("a-1")
    feed.app.resolve("P0-2026-11-001", "zhang.wei", "restarted", CAUSE)
    assert feed.app.incident("P0-2026-11-001")["close_by"] is None
    assert "closure clock started" not in [e["action"] for e in
                                           feed.app.incident("P0-2026-11-001")["timeline"]]


def test_awaiting_the_requester_stops_the_clocks_and_moves_the_deadlines_by_working_time(desk):
    desk.raise_alert("a-1", severity="P1")
    ref = "P1-2026-11-001"
    # Seed 003 desk: P1 respond in 30 min of desk time, from Monday 17:00 in Shanghai.
    assert desk.app.incident(ref)["respond_by"] == datetime(2026, 11, 2, 17, 30, tzinfo=SHANGHAI)
    desk.at(datetime(2026, 11, 2, 17, 10, tzinfo=SHANGHAI))
    paused = desk.app.await_requester(ref, "asked for the till's logs", "li.na", CAUSE)
    assert paused["paused_since"] == desk.clock.now()
    desk.at(datetime(2026, 11, 2, 17, 45, tzinfo=SHANGHAI))  # past the deadline: paused
    assert desk.watch(ref) == []
    desk.at(datetime(2026, 11, 3, 9, 0, tzinfo=SHANGHAI))  # Tuesday
    resumed = desk.app.requester_answered(ref, "li.na", CAUSE)
    # 20 minutes were left at 17:10; the desk opens 08:30, the answer came at 09:00.
    assert resumed["respond_by"] == datetime(2026, 11, 3, 9, 20, tzinfo=SHANGHAI)
    assert resumed["paused_since"] is None
    assert desk.app.incident(ref)["timeline"][-1]["detail"].startswith(
        "li.na resumed it after the requester answered; SLA clocks run again, 80 working min")
    assert desk.actions(ref)[-2:] == ["awaiting requester", "requester answered"]
    events = desk.app.stored_events(desk.app._id_of(ref))
    paused_event, resumed_event = [to_contract(e) for e in events
                                   if isinstance(e, (Incident.SlaPaused, Incident.SlaResumed))]
    assert isinstance(paused_event, IncidentSlaPaused)
    assert paused_event.reason == "asked for the till's logs"
    assert isinstance(resumed_event, IncidentSlaResumed)
    assert (resumed_event.paused_seconds, resumed_event.deadlines["respond"]) == (
        80 * 60, datetime(2026, 11, 3, 9, 20, tzinfo=SHANGHAI))
    desk.at(datetime(2026, 11, 3, 9, 21, tzinfo=SHANGHAI))
    assert desk.watch(ref) == ["respond"]


def test_a_pause_is_entered_once_and_left_once(desk):
    desk.raise_alert("a-1", severity="P1")
    desk.app.await_requester("P1-2026-11-001", "", "li.na", CAUSE)
    with pytest.raises(SlaAlreadyPaused, match="already awaiting its requester"):
        desk.app.await_requester("P1-2026-11-001", "", "li.na", CAUSE)
    desk.app.requester_answered("P1-2026-11-001", "li.na", CAUSE)
    with pytest.raises(NotPaused, match="not awaiting its requester"):
        desk.app.requester_answered("P1-2026-11-001", "li.na", CAUSE)


def test_a_regrade_counts_the_new_policy_from_the_opening(retail):
    retail.raise_alert("a-1", severity="P2")  # store-office hours: Monday 17:00 + 4 h
    ref = "P2-2026-11-001"
    assert retail.app.incident(ref)["respond_by"] == datetime(2026, 11, 3, 12, 0,
                                                              tzinfo=SHANGHAI)
    raised = retail.app.change_severity(ref, Severity.P0, "all tills down", "li.na", CAUSE)
    assert raised["respond_by"] == T0 + timedelta(hours=1)
    assert raised["at_risk_by"]["respond"] == T0 + timedelta(minutes=45)


def test_a_type_specific_policy_is_chosen_by_the_alerts_problem_type(store_env):
    food = PolicyFeed(store_env, "food-safety.yaml")
    food.send(food.app.handle_alert_raised, AlertRaised(
        alert_id="a-1", fingerprint="fp-1", source="rule", name="cold_chain",
        entity="store-42", severity="P0", value=9.0, threshold=8.0, started_at=T0,
        labels={"problem_type": "food_safety"}))
    incident = food.app.incident("P0-2026-11-001")
    assert (incident["sla_policy"], incident["resolve_by"]) == (
        "P0/food_safety", T0 + timedelta(hours=2))


def test_a_worse_alert_raises_the_incident_to_the_policy_s_deadlines_for_that_severity(retail):
    retail.raise_alert("a-1", severity="P1")
    retail.at(T0 + timedelta(minutes=10))
    retail.raise_alert("a-2", severity="P0")  # the same fingerprint fires worse
    incident = retail.app.incident("P1-2026-11-001")
    assert incident["severity"] == "P0"
    # The retail policy's P0 (respond 1 h, resolve 4 h) from the worse alert, never later
    # than the P1 deadlines it had (2 h, 24 h); the shipped table would say 5 minutes.
    assert incident["respond_by"] == T0 + timedelta(minutes=70)
    assert incident["resolve_by"] == T0 + timedelta(minutes=250)
