"""Closing paths and drills (docs/adr/closing-paths.md): the policy read from its setting,
then the aggregate — a false positive closes at once, an optional CAPA lets a person close
or ask for a case, an observed self-fix closes after its window or goes back on a re-fire —
then what reaches the bus and the timeline."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.contracts import IncidentCapaRequested, IncidentClosed, IncidentDrillFlagged
from shared.errors import Invalid

from services.incidents.domain import (
    Closing, ClosingPath, ClosingPolicy, Incident, NotClosable, Severity, Status,
    parse_closing_paths,
)
from services.incidents.settings import IncidentsSettings
from services.incidents.timeline import timeline_of
from services.incidents.translate import to_contract
from tests.unit.test_incidents_domain import CAUSE, T0, open_incident

DEFAULTS = ClosingPolicy()


def at(hours: float) -> object:
    return T0 + timedelta(hours=hours)


def resolved(severity: Severity, verdict: str = "confirmed", clear: bool = True,
             policy: ClosingPolicy = DEFAULTS) -> Incident:
    incident = open_incident(severity, ref=f"{severity}-2026-11-001")
    if clear:
        incident.record_alert_cleared("a-1", 500.0, at(1), at(1), "detector", CAUSE)
    incident.resolve("li.na", "third till opened", at(2), "li.na", CAUSE, verdict, policy)
    return incident


def contracts_of(incident: Incident) -> list:
    return [c for c in (to_contract(e) for e in incident.collect_events()) if c is not None]


# -- the policy ------------------------------------------------------------------------------
def test_the_shipped_policy_requires_a_capa_for_p0_p1_observes_p2_for_7_days_p3_optional():
    assert [DEFAULTS.closing_for(s, "confirmed") for s in ("P0", "P1", "P2", "P3")] == [
        Closing(ClosingPath.REQUIRED), Closing(ClosingPath.REQUIRED),
        Closing(ClosingPath.OBSERVE, timedelta(days=7)), Closing(ClosingPath.OPTIONAL)]
    assert IncidentsSettings().closing_policy() == DEFAULTS


@pytest.mark.parametrize("severity", ["P0", "P1", "P2", "P3"])
def test_a_false_positive_closes_without_a_capa_whatever_the_severity(severity):
    assert DEFAULTS.closing_for(severity, "false_positive").path is ClosingPath.FALSE_POSITIVE


def test_a_failed_observation_makes_the_next_resolution_need_a_capa():
    assert DEFAULTS.closing_for("P2", "confirmed", observations_failed=1) == Closing(
        ClosingPath.REQUIRED)
    assert DEFAULTS.closing_for("P3", "confirmed", observations_failed=1).path is \
        ClosingPath.OPTIONAL  # only an observed self-fix is held to account for failing


def test_a_configured_policy_is_read_and_an_unlisted_severity_needs_a_capa():
    policy = parse_closing_paths("P1=optional, P2=observe:14d,P3=observe:12h")
    assert policy.closing_for("P2", "confirmed") == Closing(ClosingPath.OBSERVE,
                                                           timedelta(days=14))
    assert policy.closing_for("P3", "confirmed").observe == timedelta(hours=12)
    assert policy.closing_for("P0", "confirmed").path is ClosingPath.REQUIRED


@pytest.mark.parametrize("text, says", [
    ("P5=required", "'P5' is not one of P0, P1, P2, P3"),
    ("P2=watch", "must be required, optional or observe:<length>"),
    ("P2=observe", "observe needs a positive length"),
    ("P2=observe:0d", "observe needs a positive length"),
    ("P1=required:3d", "only observe takes a length"),
])
def test_a_setting_it_cannot_read_is_refused_naming_the_item_and_the_fix(text, says):
    with pytest.raises(Invalid) as refused:
        parse_closing_paths(text)
    assert refused.value.field == "closing_paths" and says in refused.value.message
    with pytest.raises(ValueError, match="closing_paths"):
        IncidentsSettings(closing_paths=text)


# -- false positive --------------------------------------------------------------------------
def test_a_false_positive_p0_is_closed_at_resolution_and_tells_capa_to_open_nothing():
    incident = resolved(Severity.P0, "false_positive")
    assert incident.status is Status.CLOSED and incident.capa_id is None
    resolution, closure = [c for c in contracts_of(incident) if c.EVENT in ("resolved", "closed")]
    assert (resolution.verdict, resolution.closing) == ("false_positive", "false_positive")
    assert isinstance(closure, IncidentClosed)
    assert (closure.path, closure.by, closure.note) == ("false_positive", "li.na",
                                                        "third till opened")


# -- optional --------------------------------------------------------------------------------
def test_an_optional_capa_lets_a_person_close_with_a_note():
    incident = resolved(Severity.P3)
    assert incident.status is Status.PLANNING and incident.closing == "optional"
    with pytest.raises(Invalid) as empty:
        incident.close_by_hand("  ", "li.na", at(3), CAUSE)
    assert empty.value.field == "note"
    incident.close_by_hand("seal replaced; no pattern across stores", "li.na", at(3), CAUSE)
    assert incident.status is Status.CLOSED
    events = incident.collect_events()
    closure = to_contract(events[-1])
    assert (closure.path, closure.by, closure.capa_id) == ("optional", "li.na", None)
    assert timeline_of(events)[-1]["detail"] == (
        "li.na closed P3-2026-11-001 (已闭环) without a CAPA case, which its severity makes "
        "optional: seal replaced; no pattern across stores")


def test_an_optional_capa_can_be_asked_for_and_then_only_the_case_closes_it():
    incident = resolved(Severity.P3)
    incident.request_capa("third door alarm this month", "li.na", at(3), CAUSE)
    [requested] = [c for c in contracts_of(incident) if isinstance(c, IncidentCapaRequested)]
    assert (requested.severity, requested.fingerprint, requested.resolution) == (
        "P3", "fp-checkout", "third till opened")
    with pytest.raises(NotClosable, match="a CAPA case was opened for it and closes it"):
        incident.close_by_hand("fine", "li.na", at(4), CAUSE)
    with pytest.raises(NotClosable, match="it has one already"):
        incident.request_capa("again", "li.na", at(4), CAUSE)


def test_closing_by_hand_is_refused_where_a_capa_is_required_or_before_resolution():
    with pytest.raises(NotClosable, match="its severity requires a CAPA case"):
        resolved(Severity.P1).close_by_hand("fine", "li.na", at(3), CAUSE)
    with pytest.raises(NotClosable, match="resolve it first"):
        open_incident(Severity.P3).close_by_hand("fine", "li.na", at(3), CAUSE)


# -- observe ---------------------------------------------------------------------------------
def test_an_observed_p2_closes_when_its_window_has_passed_and_not_before():
    incident = resolved(Severity.P2)
    assert incident.status is Status.OBSERVING
    assert (incident.observe_started_at, incident.observe_ends_at) == (at(2), at(2 + 7 * 24))
    with pytest.raises(NotClosable):
        incident.close_after_observation(at(2 + 7 * 24 - 1), "observation watch", CAUSE)
    with pytest.raises(NotClosable, match="closes by itself once its alert stays clear for "
                                          "7 days"):
        incident.close_by_hand("fine", "li.na", at(3), CAUSE)
    incident.close_after_observation(at(2 + 7 * 24), "observation watch", CAUSE)
    assert incident.status is Status.CLOSED and incident.closing_path == "observe"
    closure = contracts_of(incident)[-1]
    assert (closure.path, closure.note) == ("observe",
                                            "the alert stayed clear through the 7-day window")


def test_the_window_waits_for_the_alert_to_clear_and_runs_from_the_clearing():
    incident = resolved(Severity.P2, clear=False)
    assert incident.status is Status.OBSERVING and incident.observe_ends_at is None
    incident.record_alert_cleared("a-1", 500.0, at(5), at(5), "detector", CAUSE)
    assert (incident.observe_started_at, incident.observe_ends_at) == (at(5), at(5 + 7 * 24))


def test_a_re_fire_inside_the_window_sends_it_back_to_investigation_with_the_reason():
    incident = resolved(Severity.P2)
    assert incident.observation_refired("a-2", "checkout_latency", at(2 + 50), at(2 + 50),
                                        "detector", CAUSE)
    assert incident.status is Status.INVESTIGATING and incident.resolved_at is None
    assert incident.observations_failed == 1 and incident.observe_ends_at is None
    failed = [e for e in incident.collect_events() if isinstance(e, Incident.ObservationFailed)]
    assert failed[0].reason == ("P2-2026-11-001 cannot close: alert 'checkout_latency' on "
                                "store-42 fired 2 days into the 7-day window")
    assert failed[0].day == 3
    incident.resolve("li.na", "rota fixed", at(60), "li.na", CAUSE, "confirmed", DEFAULTS)
    assert incident.closing == "required" and incident.status is Status.PLANNING


def test_a_firing_outside_an_observation_changes_nothing_here():
    assert not resolved(Severity.P1).observation_refired("a-2", "x", at(3), at(3), "d", CAUSE)


# -- drills ----------------------------------------------------------------------------------
def test_a_drill_flagged_later_is_published_once_and_carried_on_the_resolution():
    incident = open_incident(Severity.P1, ref="P1-2026-11-001")
    with pytest.raises(Invalid):
        incident.flag_drill(" ", "zhou.min", at(1), CAUSE)
    assert incident.flag_drill("cold-chain drill", "zhou.min", at(1), CAUSE)
    assert not incident.flag_drill("again", "zhou.min", at(1), CAUSE)
    incident.resolve("li.na", "done", at(2), "li.na", CAUSE, "confirmed", DEFAULTS)
    published = contracts_of(incident)
    flagged = [c for c in published if isinstance(c, IncidentDrillFlagged)]
    assert [(c.ref, c.by, c.reason) for c in flagged] == [
        ("P1-2026-11-001", "zhou.min", "cold-chain drill")]
    assert [c.drill for c in published if c.EVENT == "resolved"] == [True]


def test_a_declared_drill_says_so_on_its_opening():
    incident = Incident.open(
        fingerprint="manual:k", occurrence=1, ref="P1-2026-11-002", severity=Severity.P1,
        title="演练: 冷柜断电", entity="store-017",
        alert={"alert_id": "manual-k", "name": "演练: 冷柜断电", "source": "manual",
               "reporter": "zhou.min", "drill": True},
        at=T0, actor="zhou.min", cause=CAUSE)
    events = incident.collect_events()
    assert incident.drill and to_contract(events[0]).drill is True
    assert "a drill (演练), kept out of every KPI" in timeline_of(events)[0]["detail"]
