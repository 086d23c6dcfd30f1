"""The facts a message shows travel from the alert: the incidents service puts the opening
alert's metric, value, threshold and firing time on IncidentOpened; the notifier keeps them
with the SLA and the Responsible on the deliveries of the opening, of later escalation steps
and of chases (a held incident's deadlines counted from its release), with the store its
entity belongs to, and a sent attempt renders them in the recipient's language and zone."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from services.incidents.domain import Incident, Severity
from services.incidents.translate import to_contract
from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.domain import Delivery
from services.notifier.holds.opening import Opening
from services.notifier.messages import render
from services.notifier.raci.deadline import deadline_id
from shared.clock import ManualClock
from shared.contracts import IncidentOpened
from tests.unit.test_incidents_domain import CAUSE as INCIDENT_CAUSE, T0 as INCIDENT_T0
from tests.unit.test_notifier_domain import CAUSE, SEALER, T0, seconds, setup_routing
from tests.unit.test_notifier_holds import opened
from tests.unit.test_raci import _with_tracking, store_network

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def app(store_env):
    return NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=EgressPolicy())


def test_the_opening_alerts_measure_is_on_incident_opened():
    incident = Incident.open(
        fingerprint="fp", occurrence=1, ref="P1-2026-11-004", severity=Severity.P1,
        title="nps on store-017", entity="store-017",
        alert={"alert_id": "a-9", "name": "nps", "metric": "nps", "value": 12.5,
               "threshold": 30.0, "started_at": (INCIDENT_T0 - timedelta(minutes=4)).isoformat()},
        at=INCIDENT_T0, actor="detector", cause=INCIDENT_CAUSE)
    (opened,) = [c for c in map(to_contract, incident.collect_events())
                 if isinstance(c, IncidentOpened)]
    assert (opened.metric, opened.value, opened.threshold) == ("nps", 12.5, 30.0)
    assert opened.firing_since == INCIDENT_T0 - timedelta(minutes=4)


def test_deliveries_carry_the_facts_and_the_message_shows_them(app):
    im = store_network(app)
    app.define_policy(name="store", severities=["P0"], actor="mgr", cause=CAUSE,
                      steps=[{"targets": [{"kind": "role", "ref": "店长"}], "delay_seconds": 60},
                             {"targets": [{"kind": "role", "ref": "战区负责人"}],
                              "delay_seconds": 60}])
    contract = IncidentOpened(
        incident_id="inc-f1", ref="P0-2026-11-017", fingerprint="fp", severity="P0",
        title="收银系统故障", entity="store-017", alert_id="a-1", opened_at=T0,
        respond_by=T0 + seconds(300), resolve_by=T0 + seconds(14400), metric="pos_errors",
        value=42.0, threshold=5.0, firing_since=T0 - seconds(120))
    # 赵磊 reads English in Berlin.
    app.update_person("zhao.lei", changes={"language": "en", "time_zone": "Europe/Berlin"},
                      left=None, why=None, actor="mgr", cause=CAUSE)
    app.handle_incident_opened(*_with_tracking(contract, 1))

    opened = app.get_or_none(Delivery.create_id("inc-f1", "incident.opened", im,
                                                {"handle": "li.na"}))
    assert opened.facts["metric"] == "pos_errors" and opened.facts["threshold"] == 5.0
    assert opened.facts["responsible"] == ["zhou.min", "li.na"]
    # The store the entity belongs to, as the directory placed it at the opening.
    assert opened.facts["unit"] == {"key": "store-017", "name": "深圳宝安店"}
    assert opened.recipient["time_zone"] == "Asia/Shanghai"
    claimed = app.start_attempt(opened.id, 1, T0)
    message = render(claimed.notification, "chat", "zh", now=T0 + seconds(60))
    assert "pos_errors = 42（阈值 5）" in message.markdown
    assert "对象**：深圳宝安店（store-017）" in message.markdown
    assert "持续**：3分钟" in message.markdown and "zhou.min、li.na" in message.markdown

    # A later step of the ladder still knows what was measured.
    app.escalate("inc-f1", T0 + seconds(60))
    step1 = app.get_or_none(Delivery.create_id("inc-f1", "escalation.step1", im,
                                               {"handle": "zhao.lei"}))
    assert step1.facts["value"] == 42.0 and step1.facts["unit"]["name"] == "深圳宝安店"
    assert (step1.recipient["language"], step1.recipient["time_zone"]) == ("en", "Europe/Berlin")
    sent = app.start_attempt(step1.id, 1, T0 + seconds(60)).notification
    message = render(sent, "email", sent.recipient["language"], now=T0 + seconds(60))
    assert message.subject.startswith(f"[{sent.incident['ref']}] 🔴 Critical P0 | Escalated: not acknowledged")
    assert "pos_errors = 42 (threshold 5)" in message.text
    assert f"acknowledge by {(T0 + seconds(300)).astimezone(BERLIN):%Y-%m-%d %H:%M} CET" \
        in message.text
    # And so does a chase of the respond deadline, with its own Responsible and due time.
    app.chase(deadline_id("inc-f1", "respond"), T0 + seconds(240))
    warned = app.get_or_none(Delivery.create_id("inc-f1", "late.respond.warning", im,
                                                {"handle": "li.na"}, "respond"))
    assert warned.facts["metric"] == "pos_errors"
    assert warned.about["responsible"] == ["zhou.min", "li.na"]


def test_a_released_incidents_messages_count_its_deadlines_from_the_release(app):
    oncall, _ = setup_routing(app)
    app.create_silence(matchers='store=~"sz-.*"', starts_at=T0,
                       ends_at=T0 + timedelta(minutes=30), comment="store refit", actor="li.na",
                       cause=CAUSE)
    app.handle_incident_opened(*opened("inc-held"))
    app.clock.advance(timedelta(minutes=30))
    version = app.get_or_none(Opening.create_id("inc-held")).version
    assert app.release_held("inc-held", version, app.clock.now()) == "released"

    told = app.get_or_none(Delivery.create_id("inc-held", "incident.opened", oncall))
    # It had 15 minutes to be acknowledged when it opened; it has them from the release.
    assert told.facts["respond_by"] == (T0 + timedelta(minutes=45)).isoformat()
    assert told.facts["opened_at"] == T0.isoformat()
