"""Triage: grouping alerts by labels within a window, re-grading an incident to its worst
alert, and storm control (the rules pure, then the application on in-memory persistence)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.clock import ManualClock
from shared.contracts import AlertRaised, AlertResolved, CloudEvent, Contract
from shared.errors import Invalid
from shared.store import Tracking

from services.incidents.app import IncidentsApplication
from services.incidents.domain import (
    DowngradeNeedsManager, GroupRule, Incident, Severity, StormControl, StormRate, StormRule,
    more_urgent,
)
from services.incidents.domain.grouping import parse_group_by
from services.incidents.domain.storm import parse_storm
from services.incidents.settings import IncidentsSettings
from services.incidents.translate import to_contract

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "msg-1", "trace": {}}
STORE = "深圳宝安店"


# -- the rules ---------------------------------------------------------------------------------
def test_a_group_key_is_the_configured_labels_and_entity_or_alertname_stand_in():
    rule = GroupRule(("store",), timedelta(minutes=30))
    assert rule.key_of({"store": STORE, "rule": "gmv"}, "gmv:深圳宝安店", "gmv_drop") == \
        f"store={STORE}"
    assert rule.key_of({}, "gmv:深圳宝安店", "gmv_drop") is None  # no store: not grouped
    by_entity = GroupRule(("entity", "alertname"))
    assert by_entity.key_of({}, "store-7", "gmv_drop") == "entity=store-7,alertname=gmv_drop"
    assert not GroupRule().on and rule.on


def test_group_by_names_labels_and_refuses_what_is_not_one():
    assert parse_group_by(" store , region ") == ("store", "region")
    assert parse_group_by("") == ()
    with pytest.raises(Invalid, match="'门店' is not a label name"):
        parse_group_by("门店")
    with pytest.raises(Invalid, match="names a label twice"):
        parse_group_by("store,store")


def test_the_storm_setting_is_count_over_length_or_off():
    assert parse_storm("50/60s") == (50, "60s")
    assert parse_storm("off") == (0, "")
    for bad in ("50", "x/60s", "0/60s", "50/"):
        with pytest.raises(Invalid, match="e.g. 50/60s"):
            parse_storm(bad)
    settings = IncidentsSettings(storm_control="20/1m", group_by="store", group_window="15m")
    assert settings.storm_rule() == StormRule(20, timedelta(minutes=1))
    assert settings.grouping() == GroupRule(("store",), timedelta(minutes=15))
    with pytest.raises(ValueError, match="'soon' is not a positive length"):
        IncidentsSettings(group_window="soon")


def test_the_storm_rate_counts_openings_in_a_sliding_window_on_the_given_clock():
    rate = StormRate(timedelta(seconds=10))
    assert [rate.note(T0 + timedelta(seconds=s)) for s in (0, 1, 2)] == [1, 2, 3]
    assert rate.note(T0 + timedelta(seconds=11)) == 2  # 0 and 1 fell out of the window
    assert rate.note(T0 + timedelta(seconds=40)) == 1


def test_severity_order_and_who_may_lower_one():
    assert more_urgent("P0", "P1") and not more_urgent("P2", "P2") and not more_urgent("P3", "P0")
    incident = Incident.open(fingerprint="fp", occurrence=1, ref="P1-2026-11-001",
                             severity=Severity.P1, title="t", entity="e",
                             alert={"alert_id": "a"}, at=T0, actor="detector", cause=CAUSE)
    incident.check_may_regrade(Severity.P0, manager=False)  # raising: anyone
    incident.check_may_regrade(Severity.P3, manager=True)
    with pytest.raises(DowngradeNeedsManager, match="lowered from P1 to P3 by a responder"):
        incident.check_may_regrade(Severity.P3, manager=False)


# -- the application ---------------------------------------------------------------------------
class Feed:
    def __init__(self, env: dict[str, str], grouping: GroupRule | None = None,
                 storm: StormRule | None = None) -> None:
        self.clock = ManualClock(T0)
        self.app = IncidentsApplication(env, self.clock, grouping, storm)
        self.sequence = 0

    def send(self, handler, contract: Contract) -> None:
        self.sequence += 1
        envelope = CloudEvent(id=f"m-{self.sequence}", source=f"closedloop/{contract.PRODUCER}",
                              type=contract.type_name(), time=T0,
                              data=contract.model_dump(mode="json"))
        handler(envelope, contract, Tracking(contract.PRODUCER.upper(), self.sequence))

    def fire(self, rule: str, severity: str, store: str = STORE, occurrence: int = 1,
             trial: bool = False) -> None:
        self.send(self.app.handle_alert_raised, AlertRaised(
            alert_id=f"{rule}-{store}-{occurrence}", fingerprint=f"{rule}-{store}",
            source="rule", name=rule, entity=f"{rule}:{store}", labels={"store": store},
            severity=severity, started_at=self.clock.now(), trial=trial))

    def clear(self, rule: str, store: str = STORE, occurrence: int = 1) -> None:
        self.send(self.app.handle_alert_resolved, AlertResolved(
            alert_id=f"{rule}-{store}-{occurrence}", fingerprint=f"{rule}-{store}",
            entity=f"{rule}:{store}", resolved_at=self.clock.now()))

    def events(self) -> list:
        return [self.app.decode(n) for n in self.app.recorder.select_notifications(1, 100_000)]

    def opened(self) -> list:
        return [e for e in self.events() if isinstance(e, Incident.Opened)]


@pytest.fixture
def grouped(store_env):
    return Feed(store_env, GroupRule(("store",), timedelta(minutes=30)))


def test_three_rules_on_one_store_are_one_incident_raised_to_its_worst_alert(grouped):
    grouped.fire("gmv_drop", "P2")
    grouped.clock.advance(timedelta(minutes=5))
    grouped.fire("refund_rate", "P2")
    grouped.clock.advance(timedelta(minutes=5))
    grouped.fire("complaints", "P1")
    [opened] = grouped.opened()
    incident = grouped.app.incident(str(opened.originator_id))
    assert incident["alert_ids"] == [f"{r}-{STORE}-1" for r in ("gmv_drop", "refund_rate",
                                                                 "complaints")]
    assert incident["severity"] == "P1"
    [raised] = [e for e in grouped.events() if isinstance(e, Incident.SeverityChanged)]
    assert (raised.previous, raised.severity, raised.reason) == (
        "P2", "P1", f"alert:complaints-{STORE} fired at P1")
    # P1's deadlines from when the P1 alert fired, never later than P2's from the opening.
    fired = T0 + timedelta(minutes=10)
    assert raised.respond_by == fired + timedelta(minutes=15)
    assert raised.resolve_by == fired + timedelta(hours=24)
    contract = to_contract(raised)
    assert (contract.severity, contract.previous, contract.reason) == (
        "P1", "P2", f"alert:complaints-{STORE} fired at P1")
    listed = grouped.app.incident_alerts(incident["ref"])
    assert [(a["name"], a["severity"], a["entity"]) for a in listed] == [
        ("gmv_drop", "P2", f"gmv_drop:{STORE}"), ("refund_rate", "P2", f"refund_rate:{STORE}"),
        ("complaints", "P1", f"complaints:{STORE}")]


def test_a_better_alert_leaves_the_severity_and_a_clear_reaches_the_group_incident(grouped):
    grouped.fire("gmv_drop", "P1")
    grouped.fire("refund_rate", "P3")
    grouped.clear("refund_rate")
    [opened] = grouped.opened()
    incident = grouped.app.incident(str(opened.originator_id))
    assert incident["severity"] == "P1"
    assert incident["cleared_alert_ids"] == [f"refund_rate-{STORE}-1"]
    assert not [e for e in grouped.events() if isinstance(e, Incident.SeverityChanged)]


def test_other_stores_after_the_window_and_trial_alerts_open_their_own(grouped):
    grouped.fire("gmv_drop", "P2")
    grouped.fire("gmv_drop", "P2", store="广州天河店")
    grouped.fire("refund_rate", "P2", trial=True)
    grouped.clock.advance(timedelta(minutes=30))
    grouped.fire("complaints", "P2")  # the window counts from the group incident's opening
    assert len(grouped.opened()) == 4


def test_the_same_fingerprint_firing_again_worse_raises_its_incident(store_env):
    feed = Feed(store_env)  # no grouping: one incident per fingerprint, as before
    feed.fire("gmv_drop", "P2")
    feed.clear("gmv_drop")
    feed.fire("gmv_drop", "P0", occurrence=2)  # unresolved: the new firing joins it
    [opened] = feed.opened()
    assert feed.app.incident(str(opened.originator_id))["severity"] == "P0"


def test_a_resolved_group_incident_leaves_the_next_alert_to_open_a_new_one(grouped):
    grouped.fire("gmv_drop", "P2")
    [first] = grouped.opened()
    grouped.app.resolve(str(first.originator_id), "alice", "restocked", CAUSE)
    grouped.fire("refund_rate", "P2")
    grouped.fire("complaints", "P2")
    second = grouped.opened()[1]
    assert grouped.app.incident(str(second.originator_id))["alert_ids"] == [
        f"refund_rate-{STORE}-1", f"complaints-{STORE}-1"]


@pytest.fixture
def stormy(store_env):
    return Feed(store_env, storm=StormRule(3, timedelta(seconds=60)))


def test_past_the_rate_alerts_are_gathered_under_one_storm_that_ends_when_it_calms(stormy):
    for i in range(10):
        stormy.fire("offline", "P1", store=f"store-{i}")
        stormy.clock.advance(timedelta(seconds=1))
    opened = stormy.opened()
    assert len(opened) == 4  # three incidents, then the storm
    storm = stormy.app.incident(str(opened[3].originator_id))
    assert storm["title"] == "Alert storm: more than 3 new incidents in 1m"
    assert storm["storm"]["alerts"] == 7 and storm["storm"]["entities"] == 7
    assert storm["storm"]["ended_at"] is None
    gathered = stormy.app.incident_alerts(storm["ref"])
    assert [a["entity"] for a in gathered] == [f"offline:store-{i}" for i in range(3, 10)]
    stormy.clear("offline", store="store-3")
    stormy.fire("offline", "P0", store="store-3", occurrence=2)  # its alert again, worse
    assert stormy.app.incident(storm["ref"])["severity"] == "P0"
    stormy.clear("offline", store="store-5")
    assert stormy.app.end_calm_storm() is None  # the first window is not over
    stormy.clock.advance(timedelta(seconds=60))  # a whole window gathered 7 (> 3): still on
    assert stormy.app.end_calm_storm() is None
    stormy.clock.advance(timedelta(seconds=60))  # a whole window with nothing gathered
    summary = stormy.app.end_calm_storm()
    assert summary.startswith("alert storm over: 7 alerts gathered on 7 entities")
    assert "6 still firing" in summary
    ended = stormy.app.incident(storm["ref"])
    assert ended["storm"]["ended_at"] is not None and ended["progress_updates"] == 1
    assert stormy.app.get_or_none(StormControl.ID).current is None
    stormy.fire("offline", "P1", store="store-99")  # after the storm: an incident of its own
    assert len(stormy.opened()) == 5


def test_a_restarted_process_finds_the_storm_in_progress(store_env, stormy):
    for i in range(5):
        stormy.fire("offline", "P1", store=f"store-{i}")
    storm_id = stormy.opened()[3].originator_id
    stormy.app._storm_id = None  # as after a restart: only the store knows the storm
    stormy.app._storm_rate = StormRate(timedelta(seconds=60))
    for i in range(5, 9):
        stormy.fire("offline", "P1", store=f"store-{i}")
    # Three open on their own until the rate is past again, then the same storm gathers.
    assert len(stormy.opened()) == 7
    assert stormy.app.incident(str(storm_id))["storm"]["alerts"] == 3


def test_a_storm_incident_names_no_alert_for_capa_to_watch_once_resolved(stormy):
    for i in range(5):
        stormy.fire("offline", "P1", store=f"store-{i}")
    storm = stormy.opened()[3]
    stormy.app.resolve(str(storm.originator_id), "alice", "uplink restored", CAUSE)
    [resolved] = [e for e in stormy.events() if isinstance(e, Incident.Resolved)]
    assert resolved.fingerprint.startswith("storm:")
    assert to_contract(resolved).fingerprint is None
