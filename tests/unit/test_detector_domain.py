"""Detector rules and alerts, pure: which series a rule watches, when it fires, and how an
alert fingerprint is raised, resolved and raised again."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from services.detector.domain import (
    Alert, AlertAlreadyFiring, AlertNotFiring, Operator, Rule, RuleBook, alert_id_for,
    fingerprint_of, occurrence_id,
)
from services.detector.translate import to_contract
from shared.contracts import AlertRaised, AlertResolved
from shared.errors import DomainError, Invalid

T0 = datetime(2026, 11, 3, 9, 14, tzinfo=timezone.utc)
WHO = {"actor": "api", "cause": {"correlation_id": "req-1", "causation_id": "req-1", "trace": {}}}


def nps_rule(operator: str = "below", threshold: float = 50.0, **overrides) -> Rule:
    fields = dict(name="Store NPS collapse", metric="store.nps", operator=operator,
                  threshold=threshold, severity="P0", labels={}, description="NPS under 50")
    return Rule(**(fields | overrides), at=T0, **WHO)


def nps_alert(fingerprint: str = "fp-store-042") -> Alert:
    return Alert(fingerprint=fingerprint, source="rule", name="Store NPS collapse",
                 entity="store-042", rule_id="rule-1", metric="store.nps",
                 labels={"region": "east"})


def raise_it(alert: Alert, value: float = 42.0, at: datetime = T0) -> None:
    alert.raise_alert(severity="P0", value=value, threshold=50.0,
                      summary=f"store.nps for store-042 is {value:g}", started_at=at, at=at, **WHO)


def resolve_it(alert: Alert, value: float = 58.0, at: datetime = T0 + timedelta(hours=2)) -> None:
    alert.resolve(value=value, resolved_at=at, at=at, **WHO)


# -- rules ---------------------------------------------------------------------------------

def test_a_below_rule_fires_only_strictly_under_its_threshold():
    rule = nps_rule("below", 50)
    assert rule.fires(42)
    assert not rule.fires(50)  # on the line is not a breach
    assert not rule.fires(58)


def test_an_above_rule_fires_only_strictly_over_its_threshold():
    rule = nps_rule("above", 30, name="Queue too long", metric="store.queue_minutes")
    assert rule.fires(30.5)
    assert not rule.fires(30)
    assert not rule.fires(12)
    assert Operator.ABOVE.fires(1, 0) and not Operator.BELOW.fires(1, 0)


def test_a_rule_watches_only_its_metric():
    rule = nps_rule()
    assert rule.watches("store.nps", {"store": "store-042"})
    assert not rule.watches("store.queue_minutes", {"store": "store-042"})


def test_label_selectors_narrow_the_series_a_rule_watches():
    east = nps_rule(labels={"region": "east", "format": "hypermarket"})
    assert east.watches("store.nps", {"region": "east", "format": "hypermarket", "store": "store-042"})
    assert not east.watches("store.nps", {"region": "east"})  # every selector must match
    assert not east.watches("store.nps", {"region": "west", "format": "hypermarket"})
    assert not east.watches("store.nps", {})


def test_a_disabled_rule_watches_nothing_until_enabled_again():
    rule = nps_rule()
    rule.disable(at=T0, **WHO)
    assert not rule.enabled
    assert not rule.watches("store.nps", {})

    rule.enable(at=T0 + timedelta(minutes=5), **WHO)
    assert rule.watches("store.nps", {})
    assert [type(e).__name__ for e in rule.collect_events()] == ["Defined", "Disabled", "Enabled"]


def test_changing_a_rule_moves_its_threshold_and_severity():
    rule = nps_rule("below", 50)
    rule.change(threshold=40, severity="P1", description="NPS under 40", at=T0, **WHO)
    assert (rule.threshold, rule.severity, rule.description) == (40, "P1", "NPS under 40")
    assert not rule.fires(42) and rule.fires(39)


@pytest.mark.parametrize("threshold", [math.nan, math.inf, -math.inf])
def test_a_rule_refuses_a_threshold_that_is_not_a_finite_number(threshold):
    with pytest.raises(Invalid) as refused:
        nps_rule(threshold=threshold)
    assert refused.value.field == "threshold"

    rule = nps_rule()
    with pytest.raises(Invalid, match="threshold: must be a finite number"):
        rule.change(threshold=threshold, severity="P0", description="", at=T0, **WHO)
    assert rule.threshold == 50.0
    assert [type(e).__name__ for e in rule.collect_events()] == ["Defined"]  # nothing stored


def test_the_fingerprint_is_one_per_rule_and_entity():
    rule, other = nps_rule(), nps_rule()
    assert rule.fingerprint("store-042") == rule.fingerprint("store-042")
    assert rule.fingerprint("store-042") != rule.fingerprint("store-043")
    assert rule.fingerprint("store-042") != other.fingerprint("store-042")
    assert rule.fingerprint("store-042") == fingerprint_of("rule", str(rule.id), "store-042")


def test_the_rulebook_has_one_well_known_id_and_lists_rules_in_order():
    book = RuleBook()
    first, second = nps_rule(), nps_rule()
    book.add(first.id)
    book.add(second.id)
    assert book.id == RuleBook.create_id()
    assert book.rule_ids == [first.id, second.id]


# -- alerts --------------------------------------------------------------------------------

def test_an_alert_id_is_derived_from_its_fingerprint_so_redeliveries_meet_the_same_alert():
    assert nps_alert("fp-a").id == nps_alert("fp-a").id == alert_id_for("fp-a")
    assert nps_alert("fp-a").id != nps_alert("fp-b").id


def test_raising_an_alert_makes_it_firing_with_the_first_occurrence_id():
    alert = nps_alert()
    raise_it(alert, value=42)
    assert alert.firing and alert.occurrence == 1
    assert alert.current_alert_id == occurrence_id("fp-store-042", 1)
    assert (alert.severity, alert.value, alert.threshold, alert.started_at) == ("P0", 42, 50, T0)


def test_a_firing_alert_cannot_be_raised_again():
    alert = nps_alert()
    raise_it(alert)
    with pytest.raises(AlertAlreadyFiring, match="alert Store NPS collapse for store-042 is already firing"):
        raise_it(alert, value=41)
    assert alert.occurrence == 1 and alert.value == 42
    assert isinstance(AlertAlreadyFiring("x"), DomainError)


def test_an_alert_that_is_not_firing_cannot_be_resolved():
    alert = nps_alert()
    with pytest.raises(AlertNotFiring, match="alert Store NPS collapse for store-042 is not firing"):
        resolve_it(alert)

    raise_it(alert)
    resolve_it(alert)
    with pytest.raises(AlertNotFiring):
        resolve_it(alert)


def test_resolving_ends_the_current_occurrence():
    alert = nps_alert()
    raise_it(alert)
    resolve_it(alert, value=58, at=T0 + timedelta(hours=2))
    assert not alert.firing
    assert (alert.value, alert.resolved_at) == (58, T0 + timedelta(hours=2))
    raised, resolved = alert.collect_events()[1:]
    assert resolved.alert_id == raised.alert_id == alert.current_alert_id


def test_each_firing_of_the_same_fingerprint_is_a_new_occurrence():
    # NPS falls, recovers, falls again: two alerts for incidents, one aggregate here.
    alert = nps_alert()
    raise_it(alert, value=42)
    first = alert.current_alert_id
    resolve_it(alert)
    raise_it(alert, value=44, at=T0 + timedelta(days=1))

    assert alert.firing and alert.occurrence == 2
    assert alert.current_alert_id == occurrence_id("fp-store-042", 2) != first
    assert alert.resolved_at is None and alert.started_at == T0 + timedelta(days=1)


def test_replaying_the_stored_events_rebuilds_the_same_alert():
    alert = nps_alert()
    raise_it(alert)
    resolve_it(alert)
    raise_it(alert, value=40, at=T0 + timedelta(days=1))

    rebuilt = None
    for stored in alert.collect_events():
        rebuilt = stored.mutate(rebuilt)
    assert (rebuilt.occurrence, rebuilt.firing, rebuilt.current_alert_id, rebuilt.value) == (
        2, True, alert.current_alert_id, 40)


def test_alert_events_translate_to_valid_public_contracts():
    alert = nps_alert()
    raise_it(alert)
    resolve_it(alert)
    registered, raised, resolved = (to_contract(e) for e in alert.collect_events())

    assert registered is None  # private bookkeeping, never published
    assert isinstance(raised, AlertRaised) and isinstance(resolved, AlertResolved)
    assert (raised.alert_id, raised.fingerprint, raised.entity, raised.labels) == (
        occurrence_id("fp-store-042", 1), "fp-store-042", "store-042", {"region": "east"})
    assert resolved.alert_id == raised.alert_id and resolved.value == 58
