"""Recurrence, one story per test on the injected clock: a closed case's alert returning
within the period reopens the case; beyond it the new case is linked to the old one; the
fifth recurrence of a rule across the organisation within three months raises a systemic
problem for the accountable manager."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from services.capa.app import CapaApplication
from services.capa.consumer import subscriptions
from services.capa.domain import CapaCase
from services.capa.domain.effectiveness import parse_windows
from services.capa.domain.recurrence import (
    RECENT, RecurrencePolicy, RuleSignature, SystemicProblem, parse_length,
)
from services.capa.settings import CapaSettings
from services.capa.translate import to_contract
from shared.clock import ManualClock
from shared.contracts import (
    CapaRecurred, CapaSystemicProblemRaised, CloudEvent, IncidentOpened, IncidentResolved,
)
from shared.errors import Invalid
from shared.store import Tracking, replayed

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "req-1", "trace": {}}
RULE = "NPS collapse"


class Story:
    """The capa application on the in-memory store, fed what the incidents service says."""

    def __init__(self, store_env: dict[str, str]) -> None:
        self.clock = ManualClock(T0)
        self.app = CapaApplication(store_env, self.clock, parse_windows("P0=1d,P1=1d"),
                                   RecurrencePolicy(period=timedelta(days=90),
                                                    systemic_count=5,
                                                    systemic_period=timedelta(days=90)))
        self.handlers = {c: h for s in subscriptions(self.app) for c, h in s.handlers.items()}
        self.sequence = 0
        self.opened: dict[str, IncidentOpened] = {}

    def deliver(self, contract) -> None:
        self.sequence += 1
        envelope = CloudEvent(id=f"{contract.PRODUCER}:{self.sequence}",
                              source=f"closedloop/{contract.PRODUCER}",
                              type=contract.type_name(), time=self.clock.now(),
                              data=contract.model_dump(mode="json"))
        self.handlers[type(contract)](envelope, contract,
                                      Tracking(contract.PRODUCER.upper(), self.sequence))

    def open(self, ref: str, entity: str = "store-042") -> str:
        incident_id = f"inc-{uuid.uuid4()}"
        now = self.clock.now()
        self.opened[incident_id] = contract = IncidentOpened(
            incident_id=incident_id, ref=ref, fingerprint=f"nps-collapse:{entity}",
            severity="P0", title=f"{RULE} on {entity}", entity=entity, alert_id=str(uuid.uuid4()),
            opened_at=now, respond_by=now + timedelta(minutes=15),
            resolve_by=now + timedelta(hours=4), labels={"alertname": RULE, "entity": entity})
        self.deliver(contract)
        return incident_id

    def resolve(self, incident_id: str) -> uuid.UUID:
        opened = self.opened[incident_id]
        self.deliver(IncidentResolved(
            incident_id=incident_id, ref=opened.ref, severity="P0", title=opened.title,
            entity=opened.entity, by="Li Wei", summary="queue re-staffed", at=self.clock.now(),
            fingerprint=opened.fingerprint))
        return CapaCase.create_id(incident_id)

    def close(self, capa_id: uuid.UUID) -> None:
        """Analyse, verify, and let the one-day window end clear."""
        app = self.app
        app.record_root_cause(capa_id, by="Zhang Min", cause=CAUSE, method="5whys",
                              statement="weekend rota ignores the footfall forecast",
                              whys=["two tills unstaffed"], category=None,
                              contributing_factors=[])
        if app.case(capa_id)["status"] == "open":  # else a revised root cause answered it
            self.act(capa_id)
        self.clock.advance(timedelta(days=1))
        app.close_after_window(capa_id)
        assert app.case(capa_id)["status"] == "closed"

    def act(self, capa_id: uuid.UUID) -> None:
        app = self.app
        app.add_action(capa_id, by="Zhang Min", cause=CAUSE, kind="corrective",
                       title="re-plan the rota", owner="Li Wei", due_date=date(2027, 12, 31),
                       acceptance_criteria="all tills staffed at peak")
        action = f"A-{len(app.case(capa_id)['actions'])}"
        app.complete_action(capa_id, action, by="Li Wei", evidence="rota v7", as_manager=False,
                            cause=CAUSE)
        app.verify_action(capa_id, action, verifier="Chen Jie", effective=True,
                          note="checked on site", cause=CAUSE)

    def incident_closed_case(self, ref: str, entity: str = "store-042") -> uuid.UUID:
        capa_id = self.resolve(self.open(ref, entity))
        self.close(capa_id)
        return capa_id

    def events(self, aggregate_id: uuid.UUID) -> list:
        return list(self.app.events.get(aggregate_id))

    def history(self, capa_id: uuid.UUID) -> list[str]:
        return [h["event"] for h in self.app.history(capa_id)]


@pytest.fixture
def story(store_env) -> Story:
    return Story(store_env)


def test_a_return_within_the_period_reopens_the_closed_case(story):
    first = story.incident_closed_case("P0-2026-12-001")
    story.clock.advance(timedelta(days=30))

    second = story.open("P0-2026-12-031")

    case = story.app.case(first)
    assert case["status"] == "open" and case["closed_at"] is None
    assert story.history(first)[-1] == "Recurred"
    [recurrence] = case["recurrence"]["recurrences"]
    assert recurrence["ref"] == "P0-2026-12-031" and recurrence["incident_id"] == second
    reason = ("P0-2026-12-001 recurred as P0-2026-12-031 30 days after closure: its actions "
              "were not effective")
    assert recurrence["reason"] == reason
    assert any(reason in b for b in case["closure_blockers"])
    published = to_contract(story.events(first)[-1])
    assert isinstance(published, CapaRecurred)
    assert (published.recurrence_ref, published.after_seconds) == (
        "P0-2026-12-031", timedelta(days=30).total_seconds())

    # The return is analysed in the reopened case: its resolution opens no second case.
    assert story.resolve(second) and story.app.get_or_none(CapaCase.create_id(second)) is None

    # Back to analysis, as after a failed window: a revised root cause (or a new verified
    # action) sends it through a new window to closure.
    story.close(first)
    assert story.history(first).count("Closed") == 2


def test_a_return_beyond_the_period_opens_a_new_case_linked_to_the_old(story):
    first = story.incident_closed_case("P0-2026-12-001")
    story.clock.advance(timedelta(days=91))

    second = story.resolve(story.open("P0-2027-03-002"))

    assert story.app.case(first)["status"] == "closed"
    assert "Recurred" not in story.history(first)
    case = story.app.case(second)
    assert case["status"] == "open"
    assert case["recurrence"]["previous_cases"] == [str(first)]
    assert story.history(second)[:2] == ["Opened", "HistoryLinked"]


def test_the_fifth_recurrence_of_a_rule_in_three_months_raises_a_systemic_problem(story):
    closed = story.incident_closed_case("P0-2026-12-001", "store-001")
    refs, raised = [], None
    for n in range(2, 7):  # five stores, one return of the rule every ten days
        story.clock.advance(timedelta(days=10))
        ref = f"P0-2026-12-{n:03d}"
        incident = story.open(ref, f"store-{n:03d}")
        refs.append(ref)
        problems = [i for i in story.app.recorder.select_notifications(1, 10_000)
                    if i.topic.endswith("SystemicProblem.Raised")]
        if n < 6:
            assert problems == [], f"raised after {n - 1} recurrences"
        else:
            [notification] = problems
            raised = story.app.get_or_none(notification.originator_id)
    assert isinstance(raised, SystemicProblem)
    assert raised.id == SystemicProblem.create_id(RULE, incident)
    assert [r["ref"] for r in raised.recurrences] == refs
    assert str(closed) in raised.capa_ids
    contract = to_contract(story.events(raised.id)[0])
    assert isinstance(contract, CapaSystemicProblemRaised)
    assert (contract.recurrences, contract.threshold, contract.rule) == (5, 5, RULE)
    assert contract.entities == [f"store-{n:03d}" for n in range(2, 7)]
    assert contract.summary == ("'NPS collapse' recurred 5 times in 90 days on 5 entities: a "
                                "systemic problem for the accountable manager")

    # A sixth return joins the problem already raised instead of raising another.
    story.clock.advance(timedelta(days=1))
    story.open("P0-2027-01-007", "store-007")
    raised = story.app.get_or_none(raised.id)
    assert [r["ref"] for r in raised.recurrences][-1] == "P0-2027-01-007"
    signature = story.app.get_or_none(RuleSignature.create_id(RULE))
    assert signature.systemic_id == str(raised.id) and signature.unattached == []


def test_recurrences_spread_beyond_the_systemic_period_raise_nothing(story):
    story.incident_closed_case("P0-2026-12-001", "store-001")
    for n in range(2, 7):  # one return a month: never five within 90 days
        story.clock.advance(timedelta(days=30))
        story.open(f"P0-2027-{n:02d}-001", f"store-{n:03d}")
    signature = story.app.get_or_none(RuleSignature.create_id(RULE))
    assert len(signature.recurrences) == 5 and signature.systemic_id is None


def test_a_republished_opening_reopens_once_and_counts_once(story):
    first = story.incident_closed_case("P0-2026-12-001")
    story.clock.advance(timedelta(days=5))
    second = story.open("P0-2026-12-006")
    story.deliver(story.opened[second])  # the same opening again, at a new stream position

    assert story.history(first).count("Recurred") == 1
    signature = story.app.get_or_none(RuleSignature.create_id(RULE))
    assert [o.ref for o in signature.recurrences] == ["P0-2026-12-006"]


def test_an_opening_published_again_long_after_counts_once(story):
    """The signature keeps its latest incidents only: an older opening published again is
    known by its facts, and its signature neither grows nor notes it twice."""
    first_quiet = story.open("P0-2026-12-001", entity="store-901")  # no case closed yet
    story.incident_closed_case("P0-2026-12-002")
    story.clock.advance(timedelta(days=1))
    returned = story.open("P0-2026-12-003", entity="store-900")  # a recurrence of the rule
    for n in range(RECENT):
        story.open(f"P1-{n}", entity=f"store-{n:03d}")
    signature_id = RuleSignature.create_id(RULE)
    before = story.app.get_or_none(signature_id)
    assert not before.knows(first_quiet) and before.knows(returned)

    story.deliver(story.opened[first_quiet])
    story.deliver(story.opened[returned])

    after = story.app.get_or_none(signature_id)
    assert after.version == before.version and len(after.recurrences) == len(before.recurrences)


def test_the_periods_are_settings_refused_when_unreadable(monkeypatch):
    monkeypatch.setenv("CLOSEDLOOP_CAPA_RECURRENCE_PERIOD", "30d")
    monkeypatch.setenv("CLOSEDLOOP_CAPA_SYSTEMIC_RECURRENCES", "3")
    policy = CapaSettings().recurrence()
    assert policy == RecurrencePolicy(timedelta(days=30), 3, timedelta(days=90))
    monkeypatch.setenv("CLOSEDLOOP_CAPA_RECURRENCE_PERIOD", "three months")
    with pytest.raises(ValueError, match="positive length"):
        CapaSettings()
    with pytest.raises(Invalid):
        parse_length("period", "0d")


def test_the_read_models_follow_the_event_a_recurrence_stores(story):
    from services.capa.kpis.projection import CapaKpis
    from services.capa.projections import CapaCases
    first = story.incident_closed_case("P0-2026-12-001")
    story.clock.advance(timedelta(days=30))
    story.open("P0-2026-12-031")
    recurred = type(story.events(first)[-1])
    assert recurred in CapaCases().handlers() and recurred in CapaKpis().handlers()


def test_a_long_signature_is_read_from_its_snapshot_with_the_state_its_events_give(story):
    story.incident_closed_case("P0-1")
    for n in range(2, 62):  # each a return of the closed case's problem: a recurrence
        story.open(f"P0-{n}", entity=f"store-{n:03d}")
    signature_id = RuleSignature.create_id(RULE)
    snapshots = [s.originator_version for s in story.app.snapshots.get(signature_id)]
    read = story.app.repository.get(signature_id)  # the snapshot, then the events after it
    replayed_in_full = replayed(None, story.app.events.get(signature_id))
    assert snapshots and all(v % 50 == 0 for v in snapshots) and read.version > snapshots[-1]
    assert read.version == replayed_in_full.version
    assert read.incidents == replayed_in_full.incidents
    assert read.recurrences == replayed_in_full.recurrences and len(read.recurrences) == 60
    assert read.knows(next(iter(story.opened))) and not hasattr(read, "noted")
    assert read.unattached == replayed_in_full.unattached
    now = story.clock.now()
    assert (read.systemic_due(now, story.app.recurrence)
            == replayed_in_full.systemic_due(now, story.app.recurrence))
