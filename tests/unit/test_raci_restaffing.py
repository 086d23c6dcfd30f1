"""A severity change re-staffs the incident from the new severity's matrix row (letters
given by hand kept over it; the people newly Responsible or Accountable told), the chases
name the new people and use the new severity's time boxes; an incident no matrix row
staffed still follows the letters given by hand (told, and heard of its lifecycle) without
being chased, and is staffed and chased once a change gives it a severity with a row."""
from __future__ import annotations

from services.notifier.domain import Delivery
from services.notifier.raci.deadline import Phase, deadline_id
from services.notifier.raci.staffing import Staffing
from services.notifier.translate import TRANSLATIONS
from shared.contracts import (
    IncidentReopened, IncidentResolved, IncidentRoleAssigned, IncidentStaffed,
)
from tests.unit.test_notifier_domain import CAUSE, T0, seconds
from tests.unit.test_notifier_lifecycle import REF, Story, network, told
from tests.unit.test_raci import DEADLINES, SEED, app  # noqa: F401 (fixture)


def assign(story: Story, role: str, person: str, via: str = "hand") -> str:
    return story.send(story.app.handle_incident_role_assigned, IncidentRoleAssigned(
        incident_id=story.incident_id, ref=REF, role=role, person=person, via=via, at=T0))


def people(app, incident_id: str) -> tuple[list[str], ...]:
    s = app.staffing_of(incident_id)
    return s["responsible"], s["accountable"], s["consulted"], s["informed"]


def test_a_raise_restaffs_from_the_new_row_keeping_the_letters_given_by_hand(app):
    im, _ = network(app)  # P2: li.na R and A, zhou.min C; P0: zhou.min + li.na R, zhao.lei A
    story = Story(app, "inc-s1")
    story.open()  # P2
    assign(story, "accountable", "zhou.min")  # by hand, before the change
    assign(story, "informed", "sun.hao")
    assert people(app, "inc-s1") == (["li.na"], ["zhou.min"], ["zhou.min"], ["sun.hao"])

    raised = story.severity("P0", "P2", by="li.na")
    # R and I from the P0 row; the Accountable named by hand stays; sun.hao stays Informed.
    assert people(app, "inc-s1") == (["zhou.min", "li.na"], ["zhou.min"], [],
                                     ["wang.jianguo", "sun.hao"])
    staffing = app.repository.get(Staffing.create_id("inc-s1"))
    assert staffing.severity == "P0" and staffing.accountable_at == [
        {"role": "战区负责人", "unit": "south"}]
    # zhou.min is newly Responsible and told so; li.na was already; zhao.lei, the matrix's
    # P0 Accountable, is not: the hand assignment is kept over him.
    assert told(app, "inc-s1", "raci.assigned.responsible", raised, im) == ["zhou.min"]
    assert told(app, "inc-s1", "raci.assigned.accountable", raised, im) == []
    # The severity-changed message went to the people as they were before the change.
    assert "wang.jianguo" not in told(app, "inc-s1", "incident.severity_changed", raised, im)
    # The IncidentStaffed published again (the incidents service keeps the first it hears).
    events = list(app.events.get(Staffing.create_id("inc-s1")))
    fact = TRANSLATIONS[type(events[-1])](events[-1])
    assert isinstance(fact, IncidentStaffed) and fact.severity == "P0"
    assert fact.responsible == ["zhou.min", "li.na"] and fact.accountable == ["zhou.min"]

    # The late respond chase warns the new Responsible, names the new severity.
    respond = app.repository.get(deadline_id("inc-s1", "respond"))
    app.chase(respond.id, respond.next_at)
    assert told(app, "inc-s1", "late.respond.warning", "respond", im) == ["li.na", "zhou.min"]
    warning = app.repository.get(Delivery.create_id("inc-s1", "late.respond.warning", im,
                                                    {"handle": "li.na"}, "respond"))
    assert warning.severity == "P0"


def test_the_stage_in_progress_takes_the_new_severitys_time_box(app):
    network(app)
    app.define_raci(matrix=SEED, deadlines={**DEADLINES, "stages": {
        "P0": {"planning": 3600}, "P2": {"planning": 7200}}}, actor="mgr", cause=CAUSE)
    story = Story(app, "inc-s2")
    story.open()  # P2
    resolved_at = T0 + seconds(30)
    story.send(app.handle_incident_resolved, IncidentResolved(
        incident_id="inc-s2", ref=REF, severity="P2", title="t", entity="store-017",
        by="li.na", at=resolved_at, status="planning"))
    planning = deadline_id("inc-s2", "stage:planning")
    assert app.repository.get(planning).due_at == resolved_at + seconds(7200)
    story.severity("P0", "P2", by="li.na", acknowledged=True)
    moved = app.repository.get(planning)
    assert moved.due_at == resolved_at + seconds(3600)  # from when the stage was entered
    assert moved.next is Phase.WARNING and moved.next_at == resolved_at + seconds(2880)


def test_hand_letters_without_a_matrix_row_are_followed_then_a_raise_staffs_and_chases(app):
    im, _ = network(app)
    story = Story(app, "inc-s3")
    story.open(severity="P3")  # no P3 row: nobody staffed, nothing chased
    assert app.get_or_none(Staffing.create_id("inc-s3")) is None
    given = assign(story, "responsible", "sun.hao")
    assert told(app, "inc-s3", "raci.assigned.responsible", given, im) == ["sun.hao"]
    assert people(app, "inc-s3") == (["sun.hao"], [], [], [])
    assert app.staffing_of("inc-s3")["matrix"] is False
    assert app.staffing_of("inc-s3")["by_hand"] == {"responsible": ["sun.hao"]}
    events = list(app.events.get(Staffing.create_id("inc-s3")))
    assert TRANSLATIONS[type(events[0])](events[0]) is None  # no matrix staffing to publish
    assert app.get_or_none(deadline_id("inc-s3", "respond")) is None
    update = story.progress("li.na")
    assert told(app, "inc-s3", "incident.progress", update, im) == ["sun.hao"]

    raised = story.severity("P1", "P3", by="li.na")
    # The P1 row: 运营专家 A, 战区负责人 I; the Responsible named by hand is kept.
    assert people(app, "inc-s3") == (["sun.hao"], ["zhou.min"], [], ["zhao.lei"])
    assert told(app, "inc-s3", "raci.assigned.accountable", raised, im) == ["zhou.min"]
    assert told(app, "inc-s3", "raci.assigned.responsible", raised, im) == []
    respond = app.repository.get(deadline_id("inc-s3", "respond"))
    # Chased from the change (a minute in): warned at 80% of the time left to respond.
    assert respond.due_at == T0 + seconds(300) and respond.next is Phase.WARNING
    assert respond.next_at == T0 + seconds(60 + 240 * 0.8)
    assert app.repository.get(deadline_id("inc-s3", "resolve")).due_at == T0 + seconds(14400)


def test_in_consumer_batches_a_raise_keeps_the_earlier_assignment_and_a_reopening_chases(app):
    im, _ = network(app)
    story = Story(app, "inc-s4")
    reopened_at = T0 + seconds(600)

    def raised() -> None:
        story.open()  # P2
        assign(story, "accountable", "zhou.min")
        story.severity("P0", "P2", by="li.na")

    def reopened() -> None:
        story.send(app.handle_incident_resolved, IncidentResolved(
            incident_id="inc-s4", ref=REF, severity="P0", title="t", entity="store-017",
            by="li.na", at=T0 + seconds(120)))
        story.send(app.handle_incident_reopened, IncidentReopened(
            incident_id="inc-s4", ref=REF, severity="P0", reason="又卡了", by="sun.hao",
            was="planning", status="investigating", at=reopened_at,
            respond_by=reopened_at + seconds(300), resolve_by=reopened_at + seconds(14400)))

    app.save_batch(raised)
    app.save_batch(reopened)
    assert people(app, "inc-s4") == (["zhou.min", "li.na"], ["zhou.min"], [],
                                     ["wang.jianguo"])
    assert told(app, "inc-s4", "raci.assigned.responsible", "m:3", im) == ["zhou.min"]
    respond = app.repository.get(deadline_id("inc-s4", "respond"))
    assert respond.due_at == reopened_at + seconds(300) and respond.rounds == 1
    assert respond.next is Phase.WARNING and respond.next_at == reopened_at + seconds(240)
    app.chase(respond.id, respond.next_at)  # warned again under the new round's occasion
    assert told(app, "inc-s4", "late.respond.warning", "respond.round2", im) == [
        "li.na", "zhou.min"]


def test_hand_letters_stay_unchased_when_the_new_severity_has_no_row_either(app):
    im, _ = network(app)
    app.define_raci(matrix={"P0": SEED["P0"]}, deadlines=DEADLINES, actor="mgr", cause=CAUSE)
    story = Story(app, "inc-s5")
    story.open(severity="P3")
    assign(story, "responsible", "sun.hao")
    story.severity("P1", "P3", by="li.na")
    assert people(app, "inc-s5") == (["sun.hao"], [], [], [])
    assert app.staffing_of("inc-s5")["matrix"] is False
    assert app.staffing_of("inc-s5")["severity"] == "P1"
    assert app.get_or_none(deadline_id("inc-s5", "respond")) is None
