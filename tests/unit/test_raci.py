"""RACI on the in-memory store: the seed's matrix resolved against the store network names
R/A/C/I people when an incident opens (R and A paged, I told, one message per person even
when the ladder names them too); a late stage warns the Responsible at 80%, tells the
Accountable at the deadline and then the holders one level up; meeting it stops the chase;
bad rules are refused naming the field."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.directory import OrgChart
from services.notifier.domain import Delivery
from services.notifier.raci.capa import end_of, person_named
from services.notifier.raci.deadline import (
    Deadline, DeadlineNotDue, DeadlineNotWaiting, DeadlineStatus, Phase, deadline_id,
)
from services.notifier.raci.reach import one_level_up
from services.notifier.raci.rules import InvalidRaci, Raci, normalised
from services.notifier.raci.staffing import Staffing, find_people
from shared.clock import ManualClock
from shared.contracts import (
    CapaActionAdded, CapaActionCompleted, CapaActionVerified, CloudEvent, IncidentAcknowledged,
    IncidentClosed, IncidentOpened, IncidentResolved, IncidentStageEntered,
)
from shared.store import Tracking
from tests.unit.test_notifier_domain import CAUSE, SEALER, SECRET, T0, seconds

# The seed's matrix: P0 — 运营专家 R, 战区负责人 A, 店长 R, 运营总监 I; P1 — 运营专家 A+R,
# 战区负责人 I, 店长 R; P2 — 店长 A+R, 运营专家 C.
SEED = {
    "P0": {"responsible": ["运营专家", "店长"], "accountable": ["战区负责人"],
           "informed": ["运营总监"]},
    "P1": {"responsible": ["运营专家", "店长"], "accountable": ["运营专家"],
           "informed": ["战区负责人"]},
    "P2": {"responsible": ["店长"], "accountable": ["店长"], "consulted": ["运营专家"]},
}
DEADLINES = {"warn_at": 0.8, "up_after_seconds": 600, "up_roles": ["战区负责人", "运营总监"],
             "stages": {"P0": {"planning": 3600, "executing": 7200}}}
UNITS = [
    {"key": "hq", "name": "总部", "roles": {"运营总监": ["wang.jianguo"]}},
    {"key": "south", "name": "华南战区", "parent": "hq",
     "roles": {"战区负责人": ["zhao.lei"], "运营专家": ["zhou.min"]}},
    {"key": "store-017", "name": "深圳宝安店", "parent": "south", "roles": {"店长": ["li.na"]},
     "entities": ["store-017"]},
]
PEOPLE = {"wang.jianguo": "王建国", "zhao.lei": "赵磊", "zhou.min": "周敏", "li.na": "李娜"}


def chart() -> OrgChart:
    return OrgChart(people={h: {"handle": h, "name": n, "left": False}
                            for h, n in PEOPLE.items()},
                    units={u["key"]: {"parent": None, "roles": {}, "entities": [], **u}
                           for u in UNITS})


# -- pure rules ---------------------------------------------------------------------------

def test_the_seed_matrix_names_people_for_a_p0_on_a_store():
    found = find_people(chart(), "store-017", None, normalised(SEED, None)[0]["P0"])
    assert found.people == {"responsible": ["zhou.min", "li.na"], "accountable": ["zhao.lei"],
                            "consulted": [], "informed": ["wang.jianguo"]}
    assert found.accountable_at == [{"role": "战区负责人", "unit": "south"}]
    assert found.unresolved == [] and found.unit == "store-017"


def test_a_letter_given_by_hand_replaces_r_and_a_and_adds_to_c_and_i():
    found = find_people(chart(), "store-017", None, normalised(SEED, None)[0]["P0"])
    incident = {"incident_id": "inc-1", "ref": "P0-1", "severity": "P0", "title": "t",
                "entity": "store-017"}
    staffing = Staffing.record(incident=incident, found=found, at=T0, actor="notifier",
                               cause=CAUSE)
    # One of the matrix's two Responsibles named by hand becomes the only one.
    assert staffing.assign(Raci.RESPONSIBLE, "li.na", T0, "notifier", CAUSE)
    assert staffing.responsible == ["li.na"]
    assert staffing.assign(Raci.RESPONSIBLE, "sun.hao", T0, "notifier", CAUSE)
    assert staffing.assign(Raci.INFORMED, "zhou.min", T0, "notifier", CAUSE)
    assert not staffing.assign(Raci.RESPONSIBLE, "sun.hao", T0, "notifier", CAUSE)
    assert not staffing.assign(Raci.INFORMED, "zhou.min", T0, "notifier", CAUSE)
    assert staffing.assign(Raci.ACCOUNTABLE, "zhao.lei", T0, "notifier", CAUSE) is False
    assert (staffing.responsible, staffing.accountable, staffing.informed) == (
        ["sun.hao"], ["zhao.lei"], ["wang.jianguo", "zhou.min"])


def test_roles_nobody_holds_are_listed_unresolved():
    found = find_people(chart(), "store-017", None,
                        {"responsible": ["店长"], "accountable": ["区域经理"]})
    assert found.people["responsible"] == ["li.na"] and found.people["accountable"] == []
    assert found.unresolved == ["accountable (区域经理): nobody holds it from store-017 up to "
                                "the root"]
    nowhere = find_people(chart(), "unknown-pos", None, {"responsible": ["店长"]})
    assert nowhere.unresolved == ["responsible (店长): entity unknown-pos belongs to no unit"]


def test_one_level_up_is_the_accountable_role_above_else_the_configured_roles():
    up_roles = DEADLINES["up_roles"]
    # A P0's 战区负责人 at 华南战区: nobody above holds 战区负责人, so 总部's 运营总监.
    p0 = one_level_up(chart(), [{"role": "战区负责人", "unit": "south"}], up_roles, "store-017")
    assert (p0.handles, p0.role, p0.unit) == (["wang.jianguo"], "运营总监", "hq")
    # A P2's 店长 at the store: 华南战区 holds no 店长, so its 战区负责人.
    p2 = one_level_up(chart(), [{"role": "店长", "unit": "store-017"}], up_roles, "store-017")
    assert (p2.handles, p2.role, p2.unit) == (["zhao.lei"], "战区负责人", "south")
    top = one_level_up(chart(), [{"role": "运营总监", "unit": "hq"}], [], None)
    assert top.handles == [] and "nobody above" in top.why_not


@pytest.mark.parametrize("matrix, deadlines, field", [
    ({"P7": {"responsible": ["店长"], "accountable": ["店长"]}}, None, "matrix.P7"),
    ({"P0": {"responsible": ["店长"]}}, None, "matrix.P0.accountable"),
    ({"P0": {"responsible": [], "accountable": ["店长"]}}, None, "matrix.P0.responsible"),
    ({"P0": {"responsible": ["店长", "店长"], "accountable": ["x"]}}, None,
     "matrix.P0.responsible"),
    ({"P0": {"owner": ["店长"]}}, None, "matrix.P0"),
    (SEED, {"warn_at": 1.5}, "deadlines.warn_at"),
    (SEED, {"up_after_seconds": 0}, "deadlines.up_after_seconds"),
    (SEED, {"time_zone": "Mars/Olympus"}, "deadlines.time_zone"),
    (SEED, {"stages": {"P0": {"lunch": 60}}}, "deadlines.stages.P0"),
    (SEED, {"stages": {"P0": {"planning": -1}}}, "deadlines.stages.P0.planning"),
])
def test_bad_rules_are_refused_naming_the_field(matrix, deadlines, field):
    with pytest.raises(Exception) as refused:
        normalised(matrix, deadlines)
    assert refused.value.field == field


def test_an_action_owner_is_found_by_handle_or_by_a_unique_name_and_a_due_date_ends_at_midnight():
    assert person_named(chart(), "li.na") == "li.na"
    assert person_named(chart(), "李娜") == "li.na"
    assert person_named(chart(), "Somebody Else") is None
    end = end_of(date(2026, 11, 5), "Asia/Shanghai")
    assert end.isoformat() == "2026-11-06T00:00:00+08:00"


# -- the deadline's chase -----------------------------------------------------------------

def deadline(warn_share: float = 0.8, at=T0) -> Deadline:
    return Deadline.set(
        incident={"incident_id": "inc-1", "ref": "P0-2026-11-001", "severity": "P0",
                  "title": "t", "entity": "store-017"},
        key="resolve", kind="resolve", subject=None, started_at=T0, due_at=T0 + seconds(1000),
        warn_share=warn_share, up_after_seconds=600, responsible=["li.na"],
        accountable=["zhao.lei"], accountable_at=[{"role": "战区负责人", "unit": "south"}],
        up_roles=[], at=at, actor="notifier", cause=CAUSE)


def test_a_deadline_warns_then_tells_the_accountable_then_goes_up_each_once():
    late = deadline()
    with pytest.raises(DeadlineNotDue):
        late.due_phase(T0 + seconds(799))
    assert late.chase([], [], T0 + seconds(800), "w", CAUSE) is Phase.WARNING
    with pytest.raises(DeadlineNotDue):  # the warning fired; the deadline is not due yet
        late.chase([], [], T0 + seconds(801), "w", CAUSE)
    assert late.chase([], [], T0 + seconds(1000), "w", CAUSE) is Phase.DEADLINE
    assert late.reason(Phase.DEADLINE) == "late.resolve.deadline"
    assert late.chase([], [], T0 + seconds(1600), "w", CAUSE) is Phase.UP
    assert late.status is DeadlineStatus.DONE
    with pytest.raises(DeadlineNotWaiting):
        late.due_phase(T0 + seconds(9999))


def test_a_met_deadline_chases_nobody_and_a_late_start_skips_the_warning():
    met = deadline()
    assert met.meet("resolved by li.na", T0 + seconds(10), "notifier", CAUSE)
    assert not met.meet("again", T0 + seconds(11), "notifier", CAUSE)
    with pytest.raises(DeadlineNotWaiting):
        met.due_phase(T0 + seconds(2000))
    started_late = deadline(at=T0 + seconds(900))  # its 80% had passed when it was set
    assert started_late.next is Phase.DEADLINE


def test_a_restarted_deadline_chases_again_under_a_new_occasion():
    again = deadline()
    assert again.occasion == "resolve"
    assert again.chase([], [], T0 + seconds(800), "w", CAUSE) is Phase.WARNING
    assert again.meet("resolved by li.na", T0 + seconds(900), "notifier", CAUSE)
    reopened = T0 + seconds(5000)

    def restart(at):
        return again.restart(
            started_at=reopened, due_at=reopened + seconds(1000), warn_share=0.5,
            up_after_seconds=600, responsible=["sun.hao"], accountable=["wang.jianguo"],
            accountable_at=[], up_roles=[], at=at, actor="notifier", cause=CAUSE)

    assert restart(reopened)
    assert not restart(reopened)  # a redelivery: the same chase is set already
    assert (again.status, again.next, again.fired) == (DeadlineStatus.WAITING, Phase.WARNING, [])
    assert again.next_at == reopened + seconds(500) and again.responsible == ["sun.hao"]
    assert again.occasion == "resolve.round2"  # its messages are new, not the first round's
    assert again.chase([], [], reopened + seconds(500), "w", CAUSE) is Phase.WARNING


# -- the application --------------------------------------------------------------------

@pytest.fixture
def app(store_env):
    return NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=EgressPolicy())


def envelope_of(contract, seq: int) -> tuple[CloudEvent, Tracking]:
    return (CloudEvent(id=f"m:{seq}", source="closedloop/incidents", type=contract.type_name(),
                       time=T0, data=contract.model_dump(mode="json")),
            Tracking(contract.PRODUCER.upper(), seq))


def store_network(app: NotifierApplication) -> str:
    im = app.register_channel(name="im", kind="webhook", url="http://h/im", secret=SECRET,
                              headers=None, actor="mgr", cause=CAUSE)["id"]
    for handle, name in PEOPLE.items():
        app.add_person(definition={"handle": handle, "name": name, "contacts": [
            {"medium": "chat", "address": f"@{handle}", "channel": "im"}]},
            actor="mgr", cause=CAUSE)
    for unit in UNITS:
        app.define_unit(definition={"parent": None, "roles": {}, "entities": [], **unit},
                        actor="mgr", cause=CAUSE)
    app.define_raci(matrix=SEED, deadlines=DEADLINES, actor="mgr", cause=CAUSE)
    return str(im)


def open_p0(app: NotifierApplication, incident_id: str, seq: int = 1) -> IncidentOpened:
    contract = IncidentOpened(
        incident_id=incident_id, ref="P0-2026-11-017", fingerprint="fp", severity="P0",
        title="收银系统故障", entity="store-017", alert_id="a-1", opened_at=T0,
        respond_by=T0 + seconds(300), resolve_by=T0 + seconds(14400))
    app.handle_incident_opened(*_with_tracking(contract, seq))
    return contract


def _with_tracking(contract, seq):
    envelope, tracking = envelope_of(contract, seq)
    return envelope, contract, tracking


def sent(app: NotifierApplication, incident_id: str, im: str, reason: str,
         occasion: str | None = None) -> list[str]:
    return sorted(h for h in PEOPLE if app.get_or_none(
        Delivery.create_id(incident_id, reason, im, {"handle": h}, occasion)) is not None)


def test_an_opening_is_staffed_and_r_a_i_are_told_once_each_even_when_the_ladder_names_them(app):
    im = store_network(app)
    app.define_policy(name="store", severities=["P0"], actor="mgr", cause=CAUSE,
                      steps=[{"targets": [{"kind": "role", "ref": "店长"}],
                              "delay_seconds": 900}])
    open_p0(app, "inc-r1")

    staffing = app.staffing_of("inc-r1")
    assert (staffing["responsible"], staffing["accountable"], staffing["informed"]) == (
        ["zhou.min", "li.na"], ["zhao.lei"], ["wang.jianguo"])
    assert sent(app, "inc-r1", im, "incident.opened") == [
        "li.na", "wang.jianguo", "zhao.lei", "zhou.min"]
    ladder_target = app.get_or_none(Delivery.create_id("inc-r1", "incident.opened", im,
                                                       {"handle": "li.na"}))
    assert ladder_target.target == "role:店长"  # the ladder told her; the matrix adds nothing
    assert app.get_or_none(Delivery.create_id("inc-r1", "incident.opened", im,
                                              {"handle": "zhao.lei"})).target == "raci:accountable"
    # A redelivered opening stores nothing but its tracking.
    before = app.recorder.max_notification_id()
    open_p0(app, "inc-r1", seq=2)
    assert app.recorder.max_notification_id() == before


def test_r_a_i_hear_of_acknowledgement_and_resolution_which_meet_the_deadlines(app):
    im = store_network(app)
    open_p0(app, "inc-r2")
    app.handle_incident_acknowledged(*_with_tracking(IncidentAcknowledged(
        incident_id="inc-r2", ref="P0-2026-11-017", by="li.na", at=T0 + seconds(60)), 2))
    assert app.repository.get(deadline_id("inc-r2", "respond")).status is DeadlineStatus.MET
    app.handle_incident_resolved(*_with_tracking(IncidentResolved(
        incident_id="inc-r2", ref="P0-2026-11-017", severity="P0", title="t",
        entity="store-017", by="li.na", at=T0 + seconds(120)), 3))
    # R, A and I, but not li.na who did it; each message names its occasion (the envelope).
    assert sent(app, "inc-r2", im, "incident.acknowledged", "m:2") == [
        "wang.jianguo", "zhao.lei", "zhou.min"]
    assert sent(app, "inc-r2", im, "incident.resolved", "m:3") == [
        "wang.jianguo", "zhao.lei", "zhou.min"]
    assert app.repository.get(deadline_id("inc-r2", "resolve")).status is DeadlineStatus.MET


def test_an_overdue_verification_chases_the_accountable_then_one_level_up(app):
    im = store_network(app)
    open_p0(app, "inc-r3")
    added = CapaActionAdded(capa_id="c-1", incident_id="inc-r3", action_id="A-1",
                            kind="corrective", title="换收银机", owner="李娜",
                            due_date=date(2026, 11, 5), acceptance_criteria="ok", by="zhao.lei",
                            at=T0)
    app.handle_capa_action_added(*_with_tracking(added, 2))
    action = app.repository.get(deadline_id("inc-r3", "action:A-1"))
    assert action.responsible == ["li.na"] and action.accountable == ["zhao.lei"]
    done_at = T0 + timedelta(days=1)
    app.handle_capa_action_completed(*_with_tracking(CapaActionCompleted(
        capa_id="c-1", incident_id="inc-r3", action_id="A-1", kind="corrective", owner="李娜",
        completed_by="li.na", evidence="done", open_actions=0, at=done_at), 3))
    assert app.repository.get(deadline_id("inc-r3", "action:A-1")).status is DeadlineStatus.MET
    verification = deadline_id("inc-r3", "verification:A-1")
    due = done_at + timedelta(days=3)

    app.chase(verification, done_at + (due - done_at) * 0.8)
    assert sent(app, "inc-r3", im, "late.verification.warning", "verification:A-1") == [
        "li.na", "zhou.min"]  # the incident's Responsible
    app.chase(verification, due)
    assert sent(app, "inc-r3", im, "late.verification.deadline", "verification:A-1") == [
        "zhao.lei"]
    app.chase(verification, due + seconds(600))
    assert sent(app, "inc-r3", im, "late.verification.up", "verification:A-1") == [
        "wang.jianguo"]
    up = app.get_or_none(Delivery.create_id("inc-r3", "late.verification.up", im,
                                            {"handle": "wang.jianguo"}, "verification:A-1"))
    assert up.target == "up:运营总监@hq" and up.about["subject"] == "A-1"

    app.handle_capa_action_verified(*_with_tracking(CapaActionVerified(
        capa_id="c-1", incident_id="inc-r3", action_id="A-1", kind="corrective", owner="李娜",
        verifier="zhao.lei", at=due + seconds(700)), 4))
    assert app.repository.get(verification).status is DeadlineStatus.DONE  # nothing left


def test_without_a_matrix_row_an_incident_is_not_staffed(app):
    store_network(app)
    contract = IncidentOpened(
        incident_id="inc-r4", ref="P3-2026-11-001", fingerprint="fp", severity="P3",
        title="t", entity="store-017", alert_id="a", opened_at=T0,
        respond_by=T0 + seconds(300), resolve_by=T0 + seconds(600))
    app.handle_incident_opened(*_with_tracking(contract, 1))
    assert app.get_or_none(Staffing.create_id("inc-r4")) is None
    assert app.get_or_none(deadline_id("inc-r4", "respond")) is None


def test_bad_rules_through_the_application_are_refused_naming_the_field(app):
    with pytest.raises(InvalidRaci) as refused:
        app.define_raci(matrix={"P0": {"responsible": ["店长"]}}, deadlines=None, actor="m",
                        cause=CAUSE)
    assert refused.value.field == "matrix.P0.accountable"


def test_a_stage_past_its_time_box_is_chased_and_the_next_stage_ends_it(app):
    im = store_network(app)
    open_p0(app, "inc-r5")
    resolved_at = T0 + seconds(120)
    app.handle_incident_resolved(*_with_tracking(IncidentResolved(
        incident_id="inc-r5", ref="P0-2026-11-017", severity="P0", title="t",
        entity="store-017", by="li.na", at=resolved_at, status="planning"), 2))
    planning = app.repository.get(deadline_id("inc-r5", "stage:planning"))
    assert planning.due_at == resolved_at + seconds(3600)
    app.chase(planning.id, resolved_at + seconds(2880))  # 80% of the hour
    assert sent(app, "inc-r5", im, "late.planning.warning", "stage:planning") == [
        "li.na", "zhou.min"]

    executing_at = resolved_at + seconds(3000)
    app.handle_incident_stage_entered(*_with_tracking(IncidentStageEntered(
        incident_id="inc-r5", stage="executing", at=executing_at), 3))
    assert app.repository.get(planning.id).status is DeadlineStatus.MET
    executing = app.repository.get(deadline_id("inc-r5", "stage:executing"))
    assert executing.due_at == executing_at + seconds(7200)
    # A later message naming the same stage (another action planned) sets nothing new.
    app.handle_incident_stage_entered(*_with_tracking(IncidentStageEntered(
        incident_id="inc-r5", stage="executing", at=executing_at + seconds(60)), 4))
    assert app.repository.get(executing.id).due_at == executing.due_at
    # P0 has no time box for verifying: entering it only ends executing.
    app.handle_incident_stage_entered(*_with_tracking(IncidentStageEntered(
        incident_id="inc-r5", stage="verifying", at=executing_at + seconds(120)), 5))
    assert app.repository.get(executing.id).status is DeadlineStatus.MET
    assert app.get_or_none(deadline_id("inc-r5", "stage:verifying")) is None
    app.handle_incident_closed(*_with_tracking(IncidentClosed(
        incident_id="inc-r5", ref="P0-2026-11-017", at=executing_at + seconds(180)), 6))
    assert sent(app, "inc-r5", im, "incident.closed", "m:6") == [
        "li.na", "wang.jianguo", "zhao.lei", "zhou.min"]
