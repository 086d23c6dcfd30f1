"""Effectiveness before closure, one story per test on the injected clock: once every action
is verified the incident's alert must stay clear for the severity's window; a re-fire sends
the case back to analysis; a manual incident closes on a second person's check."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from services.capa.app import CapaApplication
from services.capa.domain import (
    CapaCase, EffectivenessPending, InvalidCapaInput, VerifierIsOwner,
)
from services.capa.domain.effectiveness import day_of, parse_windows, span, window_name
from services.capa.translate import to_contract
from shared.clock import ManualClock
from shared.contracts import (
    AlertRaised, CapaEffectivenessFailed, CapaEffectivenessStarted, CloudEvent, IncidentResolved,
)
from shared.errors import Invalid
from shared.store import Tracking

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "req-1", "trace": {}}
FINGERPRINT = "nps-collapse:store-042"


class Story:
    """The capa application on the in-memory store, fed the messages the loop would send."""

    def __init__(self, store_env: dict[str, str]) -> None:
        self.clock = ManualClock(T0)
        self.app = CapaApplication(store_env, self.clock, parse_windows("P0=7d,P1=5d,P2=3d,P3=3d"))
        self.sequence = 0

    def deliver(self, contract, handler) -> None:
        self.sequence += 1
        envelope = CloudEvent(id=f"{contract.PRODUCER}:{self.sequence}",
                              source=f"closedloop/{contract.PRODUCER}",
                              type=contract.type_name(), time=self.clock.now(),
                              data=contract.model_dump(mode="json"))
        handler(envelope, contract, Tracking(contract.PRODUCER.upper(), self.sequence))

    def resolve(self, ref: str, fingerprint: str | None,
                interval_seconds: float | None = None) -> uuid.UUID:
        incident_id = f"inc-{uuid.uuid4()}"
        self.deliver(IncidentResolved(
            incident_id=incident_id, ref=ref, severity=ref[:2], title="NPS collapse",
            entity="store-042", by="Li Wei", summary="queue re-staffed", at=self.clock.now(),
            fingerprint=fingerprint, interval_seconds=interval_seconds),
            self.app.handle_incident_resolved)
        return CapaCase.create_id(incident_id)

    def analyse_and_verify(self, capa_id: uuid.UUID) -> dict:
        app = self.app
        app.record_root_cause(capa_id, by="Zhang Min", cause=CAUSE, method="5whys",
                              statement="weekend rota ignores the footfall forecast",
                              whys=["two tills unstaffed"], category=None, contributing_factors=[])
        app.add_action(capa_id, by="Zhang Min", cause=CAUSE, kind="corrective",
                       title="re-plan the rota", owner="Li Wei", due_date=date(2026, 12, 31),
                       acceptance_criteria="all tills staffed at peak",
                       adverse_implications="overtime cost above budget")
        app.complete_action(capa_id, "A-1", by="Li Wei", evidence="rota v7", as_manager=False,
                            cause=CAUSE)
        return app.verify_action(capa_id, "A-1", verifier="Chen Jie", effective=True,
                                 note="checked on site", cause=CAUSE,
                                 adverse_check="overtime within budget per payroll report")

    def fire(self, fingerprint: str = FINGERPRINT) -> None:
        self.deliver(AlertRaised(
            alert_id=str(uuid.uuid4()), fingerprint=fingerprint, source="rule", rule_id="r-1",
            name="NPS collapse", metric="nps", entity="store-042", severity="P0", value=41,
            threshold=50, started_at=self.clock.now()), self.app.handle_alert_raised)

    def history(self, capa_id: uuid.UUID) -> list[str]:
        return [h["event"] for h in self.app.history(capa_id)]


@pytest.fixture
def story(store_env) -> Story:
    return Story(store_env)


def test_a_re_fire_on_day_3_of_the_window_sends_the_case_back_to_analysis(story):
    capa_id = story.resolve("P0-2026-12-003", FINGERPRINT)
    watched = story.analyse_and_verify(capa_id)
    # Every action verified: not closed yet, the 7-day window of a P0 runs.
    assert watched["status"] == "effectiveness"
    assert watched["effectiveness"]["ends_at"] == T0 + timedelta(days=7)
    assert "must stay clear for the 7-day window" in watched["closure_blockers"][0]

    story.clock.advance(timedelta(days=2, hours=3))  # day 3
    story.fire()

    case = story.app.case(capa_id)
    assert case["status"] == "open"
    [failure] = case["effectiveness"]["failures"]
    assert failure["day"] == 3
    reason = ("P0-2026-12-003 cannot close: alert 'NPS collapse' on store-042 fired 2 days "
              "into the 7-day window")
    assert failure["reason"] == reason
    assert case["closure_blockers"] == [f"the effectiveness check failed ({reason}): revise "
                                        "the root cause or verify a new action"]
    assert story.history(capa_id)[-2:] == ["EffectivenessWindowStarted", "EffectivenessFailed"]

    # The rest of the loop hears why the incident is not closed.
    failed = to_contract(story.app.stored_events(capa_id)[-1])
    assert isinstance(failed, CapaEffectivenessFailed)
    assert (failed.day, failed.alert, failed.reason) == (3, "NPS collapse", reason)

    # The window is over for this fix: its end passing closes nothing.
    story.clock.advance(timedelta(days=7))
    with pytest.raises(EffectivenessPending, match="cannot close yet: the effectiveness check"):
        story.app.close_after_window(capa_id)

    # A revised root cause starts a new window from now.
    again = story.app.record_root_cause(
        capa_id, by="Zhang Min", cause=CAUSE, method="5whys",
        statement="the forecast feed to the rota tool was stale", whys=["feed stopped"],
        category=None, contributing_factors=[])
    assert again["status"] == "effectiveness"
    assert again["effectiveness"]["started_at"] == story.clock.now()


def test_a_clean_window_closes_the_case(story):
    capa_id = story.resolve("P1-2026-12-004", FINGERPRINT)
    story.analyse_and_verify(capa_id)
    started = to_contract(story.app.stored_events(capa_id)[-1])
    assert isinstance(started, CapaEffectivenessStarted)
    assert (started.fingerprint, started.window_seconds) == (FINGERPRINT, 5 * 86400)

    story.fire("some-other-alert")  # another alert: nothing to do with this fix
    story.clock.advance(timedelta(days=4, hours=23))
    with pytest.raises(EffectivenessPending, match="until 2026-12-06 09:00 UTC"):
        story.app.close_after_window(capa_id)
    # The analysis is frozen while the fix is watched.
    with pytest.raises(EffectivenessPending, match="is in its effectiveness window"):
        story.app.add_action(capa_id, by="x", cause=CAUSE, kind="preventive", title="t",
                             owner="o", due_date=date(2026, 12, 31), acceptance_criteria="c")

    story.clock.advance(timedelta(hours=1))
    story.app.close_after_window(capa_id)
    case = story.app.case(capa_id)
    assert (case["status"], case["closed_at"]) == ("closed", T0 + timedelta(days=5))
    assert case["closure_blockers"] == [] and case["effectiveness"]["failures"] == []

    story.fire()  # a re-fire after closure is a new incident's business, not this case's
    assert story.app.case(capa_id)["status"] == "closed"


def test_a_window_shorter_than_two_rule_evaluations_is_lengthened_with_the_reason(story):
    # A daily-sales rule evaluated every 2 days cannot be judged in P2's 3-day window: it
    # might evaluate once, or (just missing it) not at all. The case waits 4 days instead.
    capa_id = story.resolve("P2-2026-12-007", FINGERPRINT, interval_seconds=2 * 86400)
    case = story.app.case(capa_id)
    assert case["effectiveness"]["window_seconds"] == 4 * 86400
    reason = ("lengthened from 3 days to 4 days: the alert's rule evaluates every 2 days, and "
              "the window must hold two evaluations")
    assert case["effectiveness"]["window_reason"] == reason
    story.analyse_and_verify(capa_id)
    started = to_contract(story.app.stored_events(capa_id)[-1])
    assert isinstance(started, CapaEffectivenessStarted)
    assert started.window_seconds == 4 * 86400 and started.ends_at == T0 + timedelta(days=4)
    assert story.app.case(capa_id)["closure_blockers"] == [
        "the incident's alert on store-042 must stay clear for the 4-day window, until "
        f"2026-12-05 09:00 UTC ({reason})"]

    story.clock.advance(timedelta(days=3))  # the setting's 3 days are not enough
    with pytest.raises(EffectivenessPending, match="until 2026-12-05 09:00 UTC"):
        story.app.close_after_window(capa_id)
    story.clock.advance(timedelta(days=1))
    story.app.close_after_window(capa_id)
    assert story.app.case(capa_id)["status"] == "closed"


def test_a_window_that_holds_two_evaluations_or_an_unknown_interval_keeps_its_setting(story):
    hourly = story.app.case(story.resolve("P0-2026-12-008", FINGERPRINT, interval_seconds=3600))
    unknown = story.app.case(story.resolve("P0-2026-12-009", FINGERPRINT))
    for case in (hourly, unknown):
        assert case["effectiveness"]["window_seconds"] == 7 * 86400
        assert case["effectiveness"]["window_reason"] is None


def test_a_manual_case_closes_on_an_effectiveness_check_by_a_second_person(story):
    capa_id = story.resolve("P2-2026-12-005", None)
    waiting = story.analyse_and_verify(capa_id)
    assert waiting["status"] == "effectiveness" and waiting["effectiveness"]["ends_at"] is None
    assert waiting["closure_blockers"] == ["a person other than the action owners must record "
                                           "an effectiveness check"]
    story.clock.advance(timedelta(days=30))
    with pytest.raises(EffectivenessPending):  # no alert, no window to end: a person decides
        story.app.close_after_window(capa_id)

    with pytest.raises(VerifierIsOwner, match=r"other than the action owners \(Li Wei\); "
                                              "Li Wei is one"):
        story.app.record_effectiveness_check(capa_id, verifier="Li Wei", text="fine",
                                             evidence="me", cause=CAUSE)
    with pytest.raises(InvalidCapaInput, match="evidence"):
        story.app.record_effectiveness_check(capa_id, verifier="Zhang Min", text="fine",
                                             evidence=" ", cause=CAUSE)
    closed = story.app.record_effectiveness_check(
        capa_id, verifier="Zhang Min", text="four weekends fully staffed, no queue complaints",
        evidence="rota audit W49-W52", cause=CAUSE)
    assert closed["status"] == "closed"
    assert closed["effectiveness"]["check"]["by"] == "Zhang Min"
    assert story.history(capa_id)[-2:] == ["EffectivenessChecked", "Closed"]


def test_an_alert_case_takes_no_manual_check_and_a_case_in_analysis_none_either(story):
    capa_id = story.resolve("P0-2026-12-006", FINGERPRINT)
    with pytest.raises(EffectivenessPending, match="no root cause is recorded"):
        story.app.record_effectiveness_check(capa_id, verifier="Zhang Min", text="t",
                                             evidence="e", cause=CAUSE)
    story.analyse_and_verify(capa_id)
    with pytest.raises(EffectivenessPending, match="closes by itself if the alert stays clear"):
        story.app.record_effectiveness_check(capa_id, verifier="Zhang Min", text="t",
                                             evidence="e", cause=CAUSE)


def test_adverse_implications_need_a_check_at_verification(story):
    capa_id = story.resolve("P1-2026-12-007", FINGERPRINT)
    app = story.app
    app.add_action(capa_id, by="lead", cause=CAUSE, kind="corrective", title="raise limit",
                   owner="alice", due_date=date(2026, 12, 31), acceptance_criteria="no 5xx",
                   adverse_implications="more load on the database")
    app.complete_action(capa_id, "A-1", by="alice", evidence="PR 9", as_manager=False,
                        cause=CAUSE)
    with pytest.raises(InvalidCapaInput, match="adverse_check: action A-1 may have adverse "
                                               r"implications \(more load on the database\)"):
        app.verify_action(capa_id, "A-1", verifier="bob", effective=True, note="", cause=CAUSE)
    case = app.verify_action(capa_id, "A-1", verifier="bob", effective=True, note="",
                             cause=CAUSE, adverse_check="db CPU flat at 30% for a week")
    [action] = case["actions"]
    assert (action["adverse_implications"], action["adverse_check"]) == (
        "more load on the database", "db CPU flat at 30% for a week")
    # Verifying one's own action stays refused.
    with pytest.raises(VerifierIsOwner):
        app.add_action(capa_id, by="lead", cause=CAUSE, kind="preventive", title="alarm",
                       owner="bob", due_date=date(2026, 12, 31), acceptance_criteria="c")
        app.complete_action(capa_id, "A-2", by="bob", evidence="x", as_manager=False,
                            cause=CAUSE)
        app.verify_action(capa_id, "A-2", verifier="bob", effective=True, note="", cause=CAUSE)


def test_window_words_and_settings():
    assert parse_windows("P0=7d, P1=36h,P3=10m") == {
        "P0": timedelta(days=7), "P1": timedelta(hours=36), "P3": timedelta(minutes=10)}
    for bad in ("P0=7", "P0=0d", "P0=-1d", "P0=sevend"):
        with pytest.raises(Invalid, match="SEVERITY=LENGTH"):
            parse_windows(bad)
    assert window_name(timedelta(days=7)) == "the 7-day window"
    assert window_name(timedelta(minutes=10)) == "the 10-minute window"
    assert span(timedelta(days=1, hours=5)) == "1 day"
    assert day_of(T0, T0) == 1 and day_of(T0, T0 + timedelta(days=2, hours=1)) == 3


def test_unreadable_windows_stop_the_service_at_start_with_the_reason(monkeypatch):
    from pydantic import ValidationError

    from services.capa.settings import CapaSettings

    monkeypatch.setenv("CLOSEDLOOP_EFFECTIVENESS_WINDOWS", "P0=a week")
    with pytest.raises(ValidationError, match="'P0=a week' is not SEVERITY=LENGTH"):
        CapaSettings()
    monkeypatch.setenv("CLOSEDLOOP_EFFECTIVENESS_WINDOWS", "P0=2d,P1=36h")
    assert CapaSettings().windows() == {"P0": timedelta(days=2), "P1": timedelta(hours=36)}


def test_the_incident_shows_why_it_is_not_closed_when_the_fix_did_not_hold(store_env):
    from services.incidents.app import IncidentsApplication
    from shared.contracts import CapaEffectivenessStarted as Started

    clock = ManualClock(T0)
    incidents = IncidentsApplication(store_env, clock)
    deliveries = iter(range(1, 100))

    def send(handler, contract) -> None:
        n = next(deliveries)
        handler(CloudEvent(id=f"{contract.PRODUCER}:{n}", source=f"closedloop/{contract.PRODUCER}",
                           type=contract.type_name(), time=T0,
                           data=contract.model_dump(mode="json")),
                contract, Tracking(contract.PRODUCER.upper(), n))

    send(incidents.handle_alert_raised, AlertRaised(
        alert_id="a-1", fingerprint=FINGERPRINT, source="rule", name="NPS collapse",
        entity="store-042", severity="P0", value=42, threshold=50, started_at=T0))
    incident = incidents.incident("P0-2026-12-001")
    incidents.resolve(incident["id"], "Li Wei", "queue re-staffed", CAUSE)
    send(incidents.handle_capa_effectiveness_started, Started(
        capa_id="c-1", incident_id=incident["id"], ref="P0-2026-12-001",
        fingerprint=FINGERPRINT, window_seconds=7 * 86400, ends_at=T0 + timedelta(days=7),
        at=T0))
    reason = ("P0-2026-12-001 cannot close: alert 'NPS collapse' on store-042 fired 2 days "
              "into the 7-day window")
    send(incidents.handle_capa_effectiveness_failed, CapaEffectivenessFailed(
        capa_id="c-1", incident_id=incident["id"], ref="P0-2026-12-001",
        fingerprint=FINGERPRINT, alert_id="a-2", alert="NPS collapse", entity="store-042",
        fired_at=T0 + timedelta(days=2), day=3, window_seconds=7 * 86400, reason=reason,
        at=T0 + timedelta(days=2)))

    timeline = {e["action"]: e["detail"] for e in incidents.timeline(incident["id"])}
    assert timeline["effectiveness window"] == ("every action verified: the alert must stay "
                                                "clear for 7 days, until 2026-12-08 09:00 UTC")
    assert timeline["effectiveness check failed"] == (
        f"{reason} (day 3): the CAPA case is back in analysis")
    assert incidents.incident(incident["id"])["status"] != "closed"
