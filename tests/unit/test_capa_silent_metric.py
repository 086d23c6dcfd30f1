"""A watched metric that cannot be observed blocks closure with that reason: the detector's
MetricSilent holds the effectiveness window open, its MetricResumed lengthens the window by
the silent time inside it (the window needs its full length observed)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.capa.domain import EffectivenessPending
from services.capa.silences import Silences
from services.capa.translate import to_contract
from shared.contracts import (
    AlertRaised, CapaEffectivenessExtended, CapaEffectivenessHeldOpen,
    MetricResumed, MetricSilent,
)
from tests.unit.test_capa_effectiveness import CAUSE, FINGERPRINT, T0, Story

DAY = timedelta(days=1)


@pytest.fixture
def story(store_env) -> Story:
    return Story(store_env)


def silent(story: Story, since, fingerprint: str = FINGERPRINT) -> None:
    story.deliver(MetricSilent(
        fingerprint=fingerprint, rule_id="r-1", name="NPS collapse", metric="store.nps",
        entity="store-042", last_sample_at=since, after_seconds=3 * 3600,
        noticed_at=story.clock.now()), Silences(story.app).on_silent)


def resumed(story: Story, since, at, fingerprint: str = FINGERPRINT) -> None:
    story.deliver(MetricResumed(
        fingerprint=fingerprint, rule_id="r-1", metric="store.nps", entity="store-042",
        last_sample_at=since, resumed_at=at, silent_seconds=(at - since).total_seconds()),
        Silences(story.app).on_resumed)


def test_a_silent_metric_holds_the_window_open_and_its_return_lengthens_it(story):
    capa_id = story.resolve("P0-2026-12-003", FINGERPRINT)
    story.analyse_and_verify(capa_id)  # the 7-day window runs from T0
    story.clock.advance(3 * DAY)
    silent(story, T0 + DAY)  # nothing since day 2
    silent(story, T0 + DAY)  # redelivered: noted once
    case = story.app.case(capa_id)
    assert case["closure_blockers"][1] == (
        "the effectiveness window of P0-2026-12-003 cannot pass unobserved: store-042 has sent "
        "no samples of store.nps since 2026-12-02 09:00 UTC; once samples arrive the window "
        "is lengthened by the silent time")
    assert story.history(capa_id).count("MetricWentSilent") == 1

    story.clock.advance(4 * DAY)  # the window's end: held open, with the reason, once
    story.app.close_after_window(capa_id)
    story.app.close_after_window(capa_id)
    case = story.app.case(capa_id)
    reason = ("the effectiveness window of P0-2026-12-003 cannot pass unobserved: store-042 "
              "sent no samples of store.nps for 6 days of the 7-day window")
    assert (case["status"], case["effectiveness"]["held_open"]) == ("effectiveness", reason)
    assert case["closure_blockers"][1] == reason
    assert story.history(capa_id).count("EffectivenessHeldOpen") == 1

    story.clock.advance(DAY)  # day 8: samples again; 7 days went unobserved inside the window
    resumed(story, T0 + DAY, T0 + 8 * DAY)
    case = story.app.case(capa_id)
    assert case["effectiveness"]["ends_at"] == T0 + 14 * DAY
    assert case["effectiveness"]["unobserved_seconds"] == 7 * 86400
    assert case["effectiveness"]["silence"] is None and len(case["closure_blockers"]) == 1
    with pytest.raises(EffectivenessPending, match="until 2026-12-15 09:00 UTC"):
        story.app.close_after_window(capa_id)
    story.clock.advance(6 * DAY)
    story.app.close_after_window(capa_id)
    assert story.app.case(capa_id)["status"] == "closed"


def test_a_silence_that_ends_inside_the_window_lengthens_it_by_the_silent_time(story):
    capa_id = story.resolve("P1-2026-12-004", FINGERPRINT)
    story.analyse_and_verify(capa_id)  # 5 days from T0
    story.clock.advance(2 * DAY)
    silent(story, T0 + DAY + timedelta(hours=12))
    story.clock.advance(DAY)
    resumed(story, T0 + DAY + timedelta(hours=12), T0 + 3 * DAY)
    assert story.app.case(capa_id)["effectiveness"]["ends_at"] == T0 + 6 * DAY + timedelta(
        hours=12)


def test_a_silence_before_the_window_counts_from_its_start_and_a_later_case_starts_silent(
        story):
    silent(story, T0 - DAY)  # heard before any case watches the alert
    capa_id = story.resolve("P0-2026-12-005", FINGERPRINT)
    assert story.app.case(capa_id)["effectiveness"]["silence"]["since"] == T0 - DAY
    story.analyse_and_verify(capa_id)  # the window starts silent at T0
    story.clock.advance(2 * DAY)
    resumed(story, T0 - DAY, T0 + 2 * DAY)
    assert story.app.case(capa_id)["effectiveness"]["ends_at"] == T0 + 9 * DAY


def test_a_silence_resumed_during_analysis_changes_no_window_and_others_are_ignored(story):
    capa_id = story.resolve("P0-2026-12-006", FINGERPRINT)
    silent(story, T0)
    silent(story, T0, fingerprint="another-alert")
    resumed(story, T0, T0 + DAY, fingerprint="never-silent")
    story.clock.advance(DAY)
    resumed(story, T0, T0 + DAY)
    case = story.app.case(capa_id)
    assert case["effectiveness"]["silence"] is None
    assert case["effectiveness"]["unobserved_seconds"] == 0
    story.analyse_and_verify(capa_id)
    assert story.app.case(capa_id)["effectiveness"]["ends_at"] == T0 + 8 * DAY


def test_a_case_without_a_fingerprint_hears_no_silence(story):
    capa_id = story.resolve("P2-2026-12-007", None)
    silent(story, T0, fingerprint=str(uuid.uuid4()))
    assert story.history(capa_id) == ["Opened"]


def test_the_loop_hears_of_a_held_window_and_of_its_new_end(story):
    capa_id = story.resolve("P0-2026-12-008", FINGERPRINT)
    story.analyse_and_verify(capa_id)
    story.clock.advance(DAY)
    silent(story, T0 + DAY)
    story.clock.advance(6 * DAY)
    story.app.close_after_window(capa_id)
    resumed(story, T0 + DAY, T0 + 7 * DAY)
    held, extended = (to_contract(e) for e in story.app.stored_events(capa_id)[-2:])
    assert isinstance(held, CapaEffectivenessHeldOpen)
    assert held.reason == ("the effectiveness window of P0-2026-12-008 cannot pass "
                           "unobserved: store-042 sent no samples of store.nps for 6 days of "
                           "the 7-day window")
    assert isinstance(extended, CapaEffectivenessExtended)
    assert (extended.unobserved_seconds, extended.ends_at) == (6 * 86400, T0 + 13 * DAY)
    # Heard during analysis, a silence's end moves no window and stays private.
    other = story.resolve("P0-2026-12-009", "other-alert")
    silent(story, T0, fingerprint="other-alert")
    resumed(story, T0, T0 + DAY, fingerprint="other-alert")
    assert to_contract(story.app.stored_events(other)[-1]) is None


def test_the_incident_shows_why_its_case_is_not_closing(story, store_env):
    from services.incidents.app import IncidentsApplication

    incidents = IncidentsApplication(store_env, story.clock)

    def send(handler, contract) -> None:
        story.deliver(contract, handler)

    send(incidents.handle_alert_raised, AlertRaised(
        alert_id="a-1", fingerprint=FINGERPRINT, source="rule", name="NPS collapse",
        entity="store-042", severity="P0", value=42, threshold=50, started_at=T0))
    incident = incidents.incident("P0-2026-12-001")
    incidents.resolve(incident["id"], "Li Wei", "queue re-staffed", CAUSE)
    reason = ("the effectiveness window of P0-2026-12-001 cannot pass unobserved: store-042 "
              "sent no samples of store.nps for 6 days of the 7-day window")
    send(incidents.handle_capa_effectiveness_held_open, CapaEffectivenessHeldOpen(
        capa_id="c-1", incident_id=incident["id"], ref="P0-2026-12-001",
        fingerprint=FINGERPRINT, reason=reason, at=T0 + 7 * DAY))
    send(incidents.handle_capa_effectiveness_extended, CapaEffectivenessExtended(
        capa_id="c-1", incident_id=incident["id"], ref="P0-2026-12-001",
        fingerprint=FINGERPRINT, unobserved_seconds=6 * 86400, ends_at=T0 + 13 * DAY,
        at=T0 + 7 * DAY))
    timeline = {e["action"]: e["detail"] for e in incidents.timeline(incident["id"])}
    assert timeline["effectiveness window unobserved"] == (
        f"{reason}: the CAPA case stays open until samples arrive again")
    assert timeline["effectiveness window lengthened"] == (
        "samples again: the window is lengthened by the 6 days nobody could observe, until "
        "2026-12-14 09:00 UTC")
    assert incidents.incident(incident["id"])["status"] != "closed"
