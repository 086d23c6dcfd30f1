"""A systemic problem is a case of its own (docs/adr/systemic-cases.md): analysed with a CAPA
case's rules, its actions verified by someone other than their owners, its fix watched across
the organisation for the systemic window, then confirmed by a person and closed. And a root
cause of the same category and problem type on the same entity is a recurrence."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from services.capa.domain import CapaCase
from services.capa.domain.errors import EffectivenessPending, InvalidCapaInput, VerifierIsOwner
from services.capa.domain.recurrence import RuleSignature, SystemicProblem
from services.capa.systemic import SystemicProblems
from services.capa.translate import to_contract
from shared.contracts import CapaSystemicProblemClosed, IncidentOpened, IncidentResolved
from tests.unit.test_capa_recurrence import CAUSE, RULE, Story

TYPE = "配件到货超时"


@pytest.fixture
def story(store_env) -> Story:
    return Story(store_env)


def raise_problem(story: Story) -> uuid.UUID:
    story.incident_closed_case("P0-2026-12-001", "store-001")
    for n in range(2, 7):
        story.clock.advance(timedelta(days=10))
        incident = story.open(f"P0-2026-12-{n:03d}", f"store-{n:03d}")
    return SystemicProblem.create_id(RULE, incident)


def analyse(problems: SystemicProblems, systemic_id: uuid.UUID) -> dict:
    problems.record_root_cause(
        systemic_id, by="Wang HQ", cause=CAUSE, method="fishbone",
        statement="the regional rota template ignores footfall", whys=[],
        category="method", contributing_factors=[{"category": "man", "factor": "no planner"}])
    problems.add_action(systemic_id, by="Wang HQ", cause=CAUSE, kind="corrective",
                        title="new rota template for every store", owner="Li Wei",
                        due_date=date(2027, 12, 31),
                        acceptance_criteria="template used by all stores in the region")
    problems.complete_action(systemic_id, "A-1", by="Li Wei", evidence="template v2 rolled out",
                             as_manager=False, cause=CAUSE)
    return problems.verify_action(systemic_id, "A-1", verifier="Chen Jie", effective=True,
                                  note="seen in 3 stores", adverse_check="", cause=CAUSE)


def test_a_systemic_problem_is_analysed_watched_everywhere_checked_and_closed(story):
    systemic_id = raise_problem(story)
    problems = SystemicProblems(story.app)
    read = problems.get(systemic_id)
    assert read["status"] == "open"
    assert read["closure_blockers"] == ["no root cause is recorded",
                                        "no corrective action exists"]
    assert {c["entity"] for c in read["cases"]} >= {"store-001"}

    # The CAPA case's rules, not a copy: a fishbone needs its category, owners don't verify.
    with pytest.raises(InvalidCapaInput) as error:
        problems.record_root_cause(systemic_id, by="Wang HQ", cause=CAUSE, method="fishbone",
                                   statement="x", whys=[], category=None,
                                   contributing_factors=[])
    assert error.value.field == "category"
    problems.add_action(systemic_id, by="Wang HQ", cause=CAUSE, kind="preventive",
                        title="audit the rota monthly", owner="Zhao Yun",
                        due_date=date(2027, 12, 31), acceptance_criteria="audit report")
    problems.complete_action(systemic_id, "A-1", by="Zhao Yun", evidence="audit #1",
                             as_manager=False, cause=CAUSE)
    with pytest.raises(VerifierIsOwner):
        problems.verify_action(systemic_id, "A-1", verifier="Zhao Yun", effective=True, note="",
                               adverse_check="", cause=CAUSE)
    problems.verify_action(systemic_id, "A-1", verifier="Chen Jie", effective=True, note="ok",
                           adverse_check="", cause=CAUSE)
    read = problems.get(systemic_id)
    assert read["status"] == "open"  # a preventive action alone is no fix
    assert read["closure_blockers"] == ["no root cause is recorded",
                                        "no corrective action exists"]

    problems.record_root_cause(
        systemic_id, by="Wang HQ", cause=CAUSE, method="fishbone",
        statement="the regional rota template ignores footfall", whys=[],
        category="method", contributing_factors=[{"category": "man", "factor": "no planner"}])
    read = problems.add_action(systemic_id, by="Wang HQ", cause=CAUSE, kind="corrective",
                               title="new rota template for every store", owner="Li Wei",
                               due_date=date(2027, 12, 31),
                               acceptance_criteria="template used by all stores")
    assert read["status"] == "open" and read["closure_blockers"] == ["action A-2 is not verified"]
    problems.complete_action(systemic_id, "A-2", by="Li Wei", evidence="template v2",
                             as_manager=False, cause=CAUSE)
    read = problems.verify_action(systemic_id, "A-2", verifier="Chen Jie", effective=True,
                                  note="ok", adverse_check="", cause=CAUSE)
    assert read["status"] == "effectiveness"
    assert read["effectiveness"]["ends_at"] == story.clock.now() + timedelta(days=30)
    assert read["closure_blockers"][0].startswith(
        "'NPS collapse' must not return on any entity for the 30-day window, until ")

    # Too early: refused with the reason in words.
    story.clock.advance(timedelta(days=3))
    with pytest.raises(EffectivenessPending, match=r"30-day window, until .* \(27 days left\)"):
        problems.record_effectiveness_check(systemic_id, verifier="Sun HQ", text="quiet",
                                            evidence="report", cause=CAUSE)

    # The rule fires on another store on day 4: back to analysis with the evidence.
    story.open("P0-2027-01-009", "store-009")
    read = problems.get(systemic_id)
    assert read["status"] == "open"
    [failure] = read["effectiveness"]["failures"]
    assert failure["reason"] == ("'NPS collapse' returned on store-009 as P0-2027-01-009 4 days "
                                 "into the 30-day window across the organisation")
    assert any(failure["reason"] in b for b in read["closure_blockers"])

    # A revised root cause answers it; the new window passes clear.
    problems.record_root_cause(systemic_id, by="Wang HQ", cause=CAUSE, method="5whys",
                               statement="the template is not enforced", whys=["no audit"],
                               category="method", contributing_factors=[])
    assert problems.get(systemic_id)["status"] == "effectiveness"
    story.clock.advance(timedelta(days=30))
    read = problems.get(systemic_id)
    assert read["closure_blockers"] == ["a person other than the action owners must record "
                                        "the effectiveness check"]
    with pytest.raises(VerifierIsOwner):
        problems.record_effectiveness_check(systemic_id, verifier="Li Wei", text="quiet",
                                            evidence="report", cause=CAUSE)
    with pytest.raises(InvalidCapaInput) as error:
        problems.record_effectiveness_check(systemic_id, verifier="Sun HQ", text=" ",
                                            evidence="report", cause=CAUSE)
    assert error.value.field == "text"
    read = problems.record_effectiveness_check(
        systemic_id, verifier="Sun HQ", text="no store fired NPS collapse for 30 days",
        evidence="dashboard export", cause=CAUSE)
    assert read["status"] == "closed" and read["closure_blockers"] == []

    closed = to_contract(story.events(systemic_id)[-1])
    assert isinstance(closed, CapaSystemicProblemClosed)
    assert (closed.rule, closed.checked_by, closed.actions) == (RULE, "Sun HQ", 2)
    assert closed.root_cause == "the template is not enforced"
    assert closed.window_seconds == timedelta(days=30).total_seconds()

    # The return inside the window was listed; a closed problem lists no new one.
    assert [r["ref"] for r in read["recurrences"]][-1] == "P0-2027-01-009"
    story.open("P0-2027-03-001", "store-010")
    assert len(story.app.get_or_none(systemic_id).recurrences) == len(read["recurrences"])


def test_stored_topics_of_cases_and_problems_are_unchanged(story):
    systemic_id = raise_problem(story)
    analyse(SystemicProblems(story.app), systemic_id)
    topics = {n.topic for n in story.app.recorder.select_notifications(1, 10_000)}
    assert "services.capa.domain.recurrence:SystemicProblem.Raised" in topics
    assert "services.capa.domain.case:CapaCase.RootCauseRecorded" in topics
    assert "services.capa.domain.case:CapaCase.ActionVerified" in topics
    assert "services.capa.domain.systemic:SystemicCase.RootCauseRecorded" in topics
    assert "services.capa.domain.systemic:SystemicCase.ActionVerified" in topics


def test_a_case_id_is_no_systemic_problem(story):
    capa_id = story.incident_closed_case("P0-2026-12-001")
    with pytest.raises(Exception, match="no systemic problem has id"):
        SystemicProblems(story.app).get(capa_id)
    with pytest.raises(Exception, match="no CAPA case has id"):
        story.app.case(SystemicProblem.create_id(RULE, "x"))


# -- the same root-cause category and problem type on the same entity ---------------------
def manual_case(story: Story, ref: str, entity: str, category: str = "material",
                problem_type: str = TYPE, close: bool = True) -> uuid.UUID:
    incident_id = f"inc-{uuid.uuid4()}"
    now = story.clock.now()
    story.deliver(IncidentOpened(
        incident_id=incident_id, ref=ref, fingerprint="", severity="P1",
        title="配件到货严重超时", entity=entity, alert_id="", opened_at=now,
        respond_by=now + timedelta(hours=1), resolve_by=now + timedelta(hours=8),
        source="ticket", problem_type=problem_type, reporter="Zhou"))
    story.deliver(IncidentResolved(incident_id=incident_id, ref=ref, severity="P1",
                                   title="配件到货严重超时", entity=entity, by="Li Wei",
                                   at=story.clock.now(), fingerprint=None))
    capa_id = CapaCase.create_id(incident_id)
    app = story.app
    app.record_root_cause(capa_id, by="Zhang Min", cause=CAUSE, method="fishbone",
                          statement="supplier ships weekly", whys=[], category=category,
                          contributing_factors=[])
    if close:
        story.act(capa_id)
        app.record_effectiveness_check(capa_id, verifier="Sun HQ", text="parts on time",
                                       evidence="delivery log", cause=CAUSE)
        assert app.case(capa_id)["status"] == "closed"
    return capa_id


def test_the_same_category_and_problem_type_on_the_same_entity_is_a_recurrence(story):
    first = manual_case(story, "P1-2026-12-001", "store-042")
    story.clock.advance(timedelta(days=20))
    other_store = manual_case(story, "P1-2026-12-002", "store-017", close=False)
    other_category = manual_case(story, "P1-2026-12-003", "store-042", category="method",
                                 close=False)
    second = manual_case(story, "P1-2026-12-004", "store-042", close=False)

    assert story.app.case(other_store)["recurrence"]["problem_recurrences"] == []
    assert story.app.case(other_category)["recurrence"]["problem_recurrences"] == []
    [linked] = story.app.case(second)["recurrence"]["problem_recurrences"]
    assert linked["capa_id"] == str(first) and linked["ref"] == "P1-2026-12-001"
    assert linked["reason"] == ("P1-2026-12-004 repeats P1-2026-12-001 on store-042 (root cause "
                                f"material, problem type {TYPE}) 20 days after it closed: its "
                                "actions were not effective")
    assert story.app.case(first)["status"] == "closed"  # the new case carries the history
    signature = story.app.get_or_none(RuleSignature.create_id(
        f"material × {TYPE}", f"problem:material:{TYPE}"))
    assert [o.ref for o in signature.recurrences] == ["P1-2026-12-004"]

    # A revised root cause of the same category counts nothing twice.
    story.app.record_root_cause(second, by="Zhang Min", cause=CAUSE, method="fishbone",
                                statement="supplier ships weekly, no buffer", whys=[],
                                category="material", contributing_factors=[])
    assert len(story.app.case(second)["recurrence"]["problem_recurrences"]) == 1
    assert len(story.app.get_or_none(signature.id).recurrences) == 1


def test_beyond_the_period_the_same_category_and_type_is_no_recurrence(story):
    manual_case(story, "P1-2026-12-001", "store-042")
    story.clock.advance(timedelta(days=91))
    later = manual_case(story, "P1-2027-03-001", "store-042", close=False)
    assert story.app.case(later)["recurrence"]["problem_recurrences"] == []


def test_five_category_and_type_recurrences_raise_a_systemic_problem(story):
    for n in range(1, 6):  # five stores, each with a closed case and its return
        entity = f"store-{n:03d}"
        manual_case(story, f"P1-2026-12-{n:03d}", entity)
        story.clock.advance(timedelta(days=5))
        manual_case(story, f"P1-2027-01-{n:03d}", entity, close=False)
    signature = story.app.get_or_none(RuleSignature.create_id(
        f"material × {TYPE}", f"problem:material:{TYPE}"))
    problem = story.app.get_or_none(uuid.UUID(signature.systemic_id))
    assert isinstance(problem, SystemicProblem)
    assert problem.signature == f"problem:material:{TYPE}"
    assert len(problem.recurrences) == 5 and len(problem.entities) == 5


def test_a_problem_raised_before_it_could_be_analysed_replays_open_and_can_be_analysed(story):
    # As stored before systemic cases: `Raised` without a window, nothing analysed.
    old = SystemicProblem(rule=RULE, incident_id="inc-old", signature=f"rule:{RULE}",
                          recurrences=[{"incident_id": "inc-old", "ref": "P0-2026-09-001",
                                        "entity": "store-001", "at": story.clock.now(),
                                        "capa_id": "", "previous": ""}],
                          capa_ids=[], threshold=5, period_seconds=7776000.0, summary="s",
                          at=story.clock.now(), actor="capa", cause=CAUSE)
    story.app.save(old)
    replayed = story.app.get_or_none(old.id)
    assert (replayed.status.value, replayed.actions, replayed.root_cause) == ("open", {}, None)
    assert replayed.window == timedelta(days=30)
    read = analyse(SystemicProblems(story.app), old.id)
    assert read["status"] == "effectiveness"
    other = story.app.get_or_none(SystemicProblem.create_id(RULE, "inc-other"))
    assert other is None and SystemicProblem.actions == {}  # the class default stays empty


def test_a_problem_watched_after_its_systemic_period_still_fails_on_a_return(story):
    systemic_id = raise_problem(story)
    story.clock.advance(timedelta(days=100))  # the analysis took longer than the period
    assert analyse(SystemicProblems(story.app), systemic_id)["status"] == "effectiveness"
    story.clock.advance(timedelta(days=2))
    story.open("P0-2027-04-001", "store-011")
    read = SystemicProblems(story.app).get(systemic_id)
    assert read["status"] == "open" and read["recurrences"][-1]["ref"] == "P0-2027-04-001"
    assert "returned on store-011 as P0-2027-04-001 3 days into" in read["closure_blockers"][-1]
