"""The rules of a CAPA case, one story per test: analysis, actions, verification, closure."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from services.capa.domain import (
    ActionAlreadyCompleted, ActionNotCompleted, ActionNotFound, ActionStatus, CapaCase,
    CaseClosed, CaseStatus, Category, InvalidCapaInput, NotTheOwner, VerifierIsOwner,
)
from services.capa.translate import to_contract
from shared.contracts import CapaActionVerified, CapaClosed, CapaOpened

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "msg-1", "trace": {}}
DUE = date(2026, 11, 20)


def open_case(incident_id: str = "inc-1") -> CapaCase:
    return CapaCase(incident_id=incident_id, ref="P0-2026-11-001", title="checkout 5xx",
                    severity="P0", entity="checkout", resolved_by="alice",
                    resolution="rolled back", at=T0, actor="capa", cause=CAUSE)


def five_whys(case: CapaCase, statement: str = "pool size was not load tested") -> None:
    case.record_root_cause(method="5whys", statement=statement,
                           whys=["5xx from checkout", "db pool exhausted", "pool too small"],
                           category=None, contributing_factors=[], at=T0, actor="alice",
                           cause=CAUSE)


def add(case: CapaCase, kind: str = "corrective", owner: str = "alice", **overrides) -> str:
    fields = dict(kind=kind, title="raise pool size", owner=owner, due_date=DUE,
                  acceptance_criteria="p99 < 300ms at 2x load", at=T0, actor="lead",
                  cause=CAUSE)
    return case.add_action(**{**fields, **overrides})


def complete(case: CapaCase, action_id: str, by: str = "alice", as_manager: bool = False) -> None:
    case.complete_action(action_id, evidence="PR #42", as_manager=as_manager, at=T0, actor=by,
                         cause=CAUSE)


def verify(case: CapaCase, action_id: str, verifier: str = "bob", effective: bool = True,
           note: str = "load test passed") -> None:
    case.verify_action(action_id, effective=effective, note=note, at=T0, actor=verifier,
                       cause=CAUSE)


def event_names(case: CapaCase) -> list[str]:
    return [type(e).__name__ for e in case.collect_events()]


def test_a_case_is_keyed_by_its_incident_so_a_redelivery_reaches_the_same_case():
    assert open_case("inc-7").id == open_case("inc-7").id == CapaCase.create_id("inc-7")
    assert open_case("inc-7").id != open_case("inc-8").id


def test_opening_publishes_capa_opened():
    case = open_case()
    [opened] = case.collect_events()
    contract = to_contract(opened)
    assert isinstance(contract, CapaOpened)
    assert (contract.capa_id, contract.incident_id, contract.ref) == (
        str(case.id), "inc-1", "P0-2026-11-001")


def test_a_five_whys_root_cause_can_be_revised_and_each_revision_is_an_event():
    case = open_case()
    five_whys(case, "first guess")
    five_whys(case, "pool size was never load tested")
    assert case.root_cause.statement == "pool size was never load tested"
    assert case.root_cause.revision == 2
    assert event_names(case).count("RootCauseRecorded") == 2


@pytest.mark.parametrize("whys, problem", [([], "1 to 5"), (["a"] * 6, "not 6"),
                                            (["why", "  "], "every why")])
def test_five_whys_needs_one_to_five_non_empty_answers(whys, problem):
    case = open_case()
    with pytest.raises(InvalidCapaInput, match=problem) as refused:
        case.record_root_cause(method="5whys", statement="x", whys=whys, category=None,
                               contributing_factors=[], at=T0, actor="alice", cause=CAUSE)
    assert refused.value.field == "whys"
    assert case.root_cause is None


def test_a_root_cause_needs_a_statement():
    with pytest.raises(InvalidCapaInput) as refused:
        open_case().record_root_cause(method="5whys", statement=" ", whys=["why"], category=None,
                                      contributing_factors=[], at=T0, actor="a", cause=CAUSE)
    assert refused.value.field == "statement"


def test_a_fishbone_root_cause_needs_one_of_the_six_categories():
    case = open_case()
    with pytest.raises(InvalidCapaInput) as refused:
        case.record_root_cause(method="fishbone", statement="x", whys=[], category=None,
                               contributing_factors=[], at=T0, actor="alice", cause=CAUSE)
    assert refused.value.field == "category"
    with pytest.raises(InvalidCapaInput, match="'weather' is not one of"):
        case.record_root_cause(method="fishbone", statement="x", whys=[], category="weather",
                               contributing_factors=[], at=T0, actor="alice", cause=CAUSE)
    # The Chinese label names the same category as the English value.
    case.record_root_cause(method="fishbone", statement="alert threshold never tuned", whys=[],
                           category="测", contributing_factors=[
                               {"category": "man", "factor": "on-call was new"}],
                           at=T0, actor="alice", cause=CAUSE)
    assert case.root_cause.category is Category.MEASUREMENT
    assert case.root_cause.contributing_factors == [{"category": "man",
                                                     "factor": "on-call was new"}]


def test_actions_get_short_ids_in_order():
    case = open_case()
    assert [add(case), add(case, "preventive")] == ["A-1", "A-2"]
    assert case.actions["A-2"].status is ActionStatus.OPEN


def test_an_action_needs_acceptance_criteria_and_a_due_date_not_before_the_case_opened():
    case = open_case()
    with pytest.raises(InvalidCapaInput) as refused:
        add(case, acceptance_criteria="   ")
    assert refused.value.field == "acceptance_criteria"
    with pytest.raises(InvalidCapaInput) as refused:
        add(case, due_date=T0.date() - timedelta(days=1))
    assert refused.value.field == "due_date"
    add(case, due_date=T0.date())  # the opening day itself is fine
    assert list(case.actions) == ["A-1"]


def test_only_the_owner_or_a_manager_completes_an_action():
    case = open_case()
    action = add(case, owner="alice")
    with pytest.raises(NotTheOwner, match="only by its owner alice or by a manager; mallory"):
        complete(case, action, by="mallory")
    complete(case, action, by="carol", as_manager=True)
    assert case.actions[action].completed_by == "carol"


def test_an_action_cannot_be_completed_twice():
    case = open_case()
    action = add(case)
    complete(case, action)
    with pytest.raises(ActionAlreadyCompleted, match="cannot be completed twice"):
        complete(case, action)


def test_unknown_actions_are_not_found():
    with pytest.raises(ActionNotFound, match="has no action A-9"):
        complete(open_case(), "A-9")


def test_an_action_must_be_completed_before_it_is_verified():
    case = open_case()
    action = add(case)
    with pytest.raises(ActionNotCompleted, match="it is open"):
        verify(case, action)


def test_the_owner_cannot_verify_their_own_action():
    case = open_case()
    action = add(case, owner="alice")
    complete(case, action, by="alice")
    with pytest.raises(VerifierIsOwner) as refused:
        verify(case, action, verifier="alice")
    assert str(refused.value) == ("action A-1 of CAPA for P0-2026-11-001 cannot be verified by "
                                  "its owner alice: verification needs someone else")
    assert case.actions[action].status is ActionStatus.COMPLETED


def test_a_manager_who_completed_an_action_cannot_verify_it_either():
    case = open_case()
    action = add(case, owner="alice")
    complete(case, action, by="carol", as_manager=True)
    with pytest.raises(VerifierIsOwner, match="carol, who completed it"):
        verify(case, action, verifier="carol")


def test_an_ineffective_verification_reopens_the_action_with_the_note():
    case = open_case()
    action = add(case)
    complete(case, action)
    with pytest.raises(InvalidCapaInput) as refused:
        verify(case, action, effective=False, note="")
    assert refused.value.field == "note"
    verify(case, action, effective=False, note="p99 still 900ms")
    reopened = case.actions[action]
    assert (reopened.status, reopened.note, reopened.verifier) == (
        ActionStatus.OPEN, "p99 still 900ms", None)
    complete(case, action)  # the owner can try again
    assert case.actions[action].status is ActionStatus.COMPLETED


def test_verification_publishes_capa_action_verified():
    case = open_case()
    action = add(case, "preventive", owner="alice")
    complete(case, action)
    case.collect_events()
    verify(case, action, verifier="bob")
    [verified] = [to_contract(e) for e in case.collect_events()]
    assert isinstance(verified, CapaActionVerified)
    assert (verified.action_id, verified.kind, verified.owner, verified.verifier) == (
        "A-1", "preventive", "alice", "bob")


def test_the_case_closes_itself_once_the_root_cause_is_known_and_every_action_is_verified():
    case = open_case()
    five_whys(case)
    corrective, preventive = add(case), add(case, "preventive", owner="dan")
    complete(case, corrective)
    complete(case, preventive, by="dan")
    verify(case, corrective)
    assert case.status is CaseStatus.OPEN
    assert case.closure_blockers() == ["action A-2 is not verified"]
    case.collect_events()
    verify(case, preventive)
    assert case.status is CaseStatus.CLOSED and case.closed_at == T0
    closed = to_contract(case.collect_events()[-1])
    assert isinstance(closed, CapaClosed)
    assert (closed.root_cause, closed.actions) == ("pool size was not load tested", 2)


def test_a_case_without_a_root_cause_stays_open_until_one_is_recorded():
    case = open_case()
    action = add(case)
    complete(case, action)
    verify(case, action)
    assert case.status is CaseStatus.OPEN
    assert case.closure_blockers() == ["no root cause is recorded"]
    five_whys(case)  # recording it is the command that closes the case
    assert case.status is CaseStatus.CLOSED


def test_a_case_with_only_preventive_actions_cannot_close():
    case = open_case()
    five_whys(case)
    action = add(case, "preventive")
    complete(case, action)
    verify(case, action)
    assert case.status is CaseStatus.OPEN
    assert case.closure_blockers() == ["no corrective action exists"]


def test_a_closed_case_takes_no_new_actions_or_revisions():
    case = open_case()
    five_whys(case)
    action = add(case)
    complete(case, action)
    verify(case, action)
    with pytest.raises(CaseClosed, match="CAPA for P0-2026-11-001 is closed: it cannot take"):
        add(case)
    with pytest.raises(CaseClosed):
        five_whys(case, "second thoughts")
    assert event_names(case).count("Closed") == 1
