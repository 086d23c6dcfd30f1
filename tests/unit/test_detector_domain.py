"""Detector rules and alerts, pure: how a rule's definition is versioned, names stay unique,
metrics are declared, and an alert fingerprint is raised, resolved, suppressed and judged."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.detector.domain import (
    Alert, AlertAlreadyFiring, AlertNotFiring, MetricCatalogue, Rule, RuleBook, RuleNameTaken,
    alert_id_for, fingerprint_of, occurrence_id, rule_fingerprint,
)
from services.detector.translate import to_contract
from shared.contracts import AlertAcknowledged, AlertRaised, AlertResolved
from shared.errors import DomainError, Invalid

T0 = datetime(2026, 11, 3, 9, 14, tzinfo=timezone.utc)
WHO = {"actor": "api", "cause": {"correlation_id": "req-1", "causation_id": "req-1", "trace": {}}}


NPS_RULE = {"name": "Store NPS collapse", "metric": "store.nps",
            "when": {"value": {}, "below": 50}, "severity": "P0"}


def nps_rule() -> Rule:
    return Rule(definition=dict(NPS_RULE), at=T0, **WHO)


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

def test_a_rule_keeps_its_definition_and_who_defined_it():
    rule = nps_rule()
    assert (rule.name, rule.metric, rule.enabled, rule.defined_by) == (
        "Store NPS collapse", "store.nps", True, "api")


def test_redefining_stores_a_version_only_when_something_changed():
    rule = nps_rule()
    assert not rule.redefine(dict(NPS_RULE), at=T0, **WHO)  # the same file applied again
    assert rule.redefine({**NPS_RULE, "when": {"value": {}, "below": 40}}, at=T0, **WHO)
    assert rule.definition["when"]["below"] == 40
    assert [type(e).__name__ for e in rule.collect_events()] == ["Defined", "Redefined"]


def test_disabling_is_a_new_version_of_the_definition():
    rule = nps_rule()
    rule.redefine({**NPS_RULE, "enabled": False}, at=T0, **WHO)
    assert not rule.enabled and rule.version == 2


def test_a_rule_keeps_its_name():
    rule = nps_rule()
    with pytest.raises(Invalid, match="a rule keeps its name"):
        rule.redefine({**NPS_RULE, "name": "renamed"}, at=T0, **WHO)
    assert rule.version == 1


def test_the_fingerprint_is_one_per_rule_and_entity():
    assert rule_fingerprint("r1", "store-042") == rule_fingerprint("r1", "store-042")
    assert rule_fingerprint("r1", "store-042") != rule_fingerprint("r1", "store-043")
    assert rule_fingerprint("r1", "store-042") != rule_fingerprint("r2", "store-042")
    assert rule_fingerprint("r1", "store-042") == fingerprint_of("rule", "r1", "store-042")


def test_the_rulebook_has_one_well_known_id_lists_rules_in_order_and_keeps_names_unique():
    book = RuleBook()
    first, second = nps_rule(), nps_rule()
    book.add(first.id, "first")
    book.add(second.id, "second")
    assert book.id == RuleBook.create_id()
    assert book.rule_ids == [first.id, second.id]
    with pytest.raises(RuleNameTaken, match="a rule named 'first' already exists"):
        book.add(nps_rule().id, "first")
    assert len(book.rule_ids) == 2


def test_the_catalogue_stores_a_declaration_only_when_it_changes():
    catalogue = MetricCatalogue()
    orders = {"name": "store.orders.daily", "interval": "1d", "retention": "400d"}
    assert catalogue.declare(orders, at=T0, **WHO)
    assert not catalogue.declare(dict(orders), at=T0, **WHO)
    assert catalogue.declare({**orders, "retention": "35d"}, at=T0, **WHO)
    assert catalogue.metrics["store.orders.daily"]["retention"] == "35d"
    assert [type(e).__name__ for e in catalogue.collect_events()] == [
        "Opened", "MetricDeclared", "MetricDeclared"]


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


def test_an_acknowledgement_is_published_once_per_occurrence_naming_who():
    alert = Alert(fingerprint="fp-pd", source="pagerduty", name="PosDown", entity="sz-baoan",
                  rule_id=None, metric=None, labels={})
    raise_it(alert)
    by = {**WHO, "actor": "pagerduty:pos-monitoring"}
    assert alert.acknowledge(at=T0 + timedelta(minutes=3), **by)
    assert not alert.acknowledge(at=T0 + timedelta(minutes=4), **by)  # recorded once
    ack = to_contract(alert.collect_events()[-1])
    assert isinstance(ack, AlertAcknowledged)
    assert (ack.alert_id, ack.fingerprint, ack.source, ack.by, ack.acknowledged_at) == (
        occurrence_id("fp-pd", 1), "fp-pd", "pagerduty", "pagerduty:pos-monitoring",
        T0 + timedelta(minutes=3))


def test_a_suppressed_raise_is_counted_and_nothing_fires():
    alert = nps_alert()
    alert.suppress(rule_id="rule-1", severity="P2", value=41.0, summary="budget spent",
                   started_at=T0, at=T0, **WHO)
    assert alert.suppressed == 1 and not alert.firing
    assert to_contract(alert.collect_events()[-1]) is None  # counted here, not published


def test_a_verdict_is_recorded_once_per_incident():
    alert = nps_alert()
    raise_it(alert)
    alert.judge(fingerprint=alert.fingerprint, rule_id="rule-1", verdict="false_positive",
                incident="P0-2026-11-001", entity="store-042", started_at=T0, resolved_at=None,
                at=T0, **WHO)
    assert alert.verdicts == {"P0-2026-11-001": "false_positive"}


def test_a_verdict_is_withdrawn_when_its_incident_turns_out_a_drill():
    alert = nps_alert()
    raise_it(alert)
    assert not alert.withdraw_verdict("P0-2026-11-001", "a drill", T0, **WHO)  # not judged
    alert.judge(fingerprint=alert.fingerprint, rule_id="rule-1", verdict="false_positive",
                incident="P0-2026-11-001", entity="store-042", started_at=T0, resolved_at=None,
                at=T0, **WHO)
    assert alert.withdraw_verdict("P0-2026-11-001", "a drill: cold-chain", T0, **WHO)
    withdrawn = alert.collect_events()[-1]
    assert (type(withdrawn).__name__, withdrawn.verdict, withdrawn.rule_id) == (
        "VerdictWithdrawn", "false_positive", alert.rule_id)
    assert alert.verdicts == {}


# -- trial mode ------------------------------------------------------------------------------

def test_a_rule_in_trial_raises_alerts_marked_trial_and_others_read_as_before():
    from services.detector.app import DetectorApplication
    from services.detector.rules import RuleSpec, definition_of
    from services.detector.rules.transitions import Transition

    assert "trial" not in definition_of(RuleSpec.model_validate(NPS_RULE))  # unchanged diff
    app = DetectorApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ids = {}
    for name, trial in (("nps-trial", True), ("nps-live", False)):
        spec = RuleSpec.model_validate({**NPS_RULE, "name": name, "trial": trial})
        ids[name] = str(app.define_rule(spec, seen={"store.nps"}, **WHO)["id"])
    app.apply_transitions([Transition(rule=ids[name], entity="store-042", metric="store.nps",
                                      labels={}, kind="raise", severity="P0", ts=T0.timestamp(),
                                      value=42.0, summary="low") for name in ids], **WHO)
    raised = {c.name: c for c in (to_contract(app.decode(n))
                                  for n in app.recorder.select_notifications(1, 100))
              if isinstance(c, AlertRaised)}
    assert raised["nps-trial"].trial is True and raised["nps-live"].trial is False


# -- evaluation interval ---------------------------------------------------------------------

def test_a_raised_alert_carries_how_often_its_rule_evaluates_for_capa():
    from services.detector.app import DetectorApplication
    from services.detector.rules import MetricSpec, RuleSpec
    from services.detector.rules.transitions import Transition

    app = DetectorApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    app.declare_metrics([MetricSpec(name="store.nps", interval="1d")], **WHO)
    specs = {"own-interval": {**NPS_RULE, "interval": "1h"},  # the rule's own interval wins
             "metric-interval": NPS_RULE,                     # else its metric's
             "every-sample": {**NPS_RULE, "metric": "store.queue"}}  # neither: none
    ids = {name: str(app.define_rule(RuleSpec.model_validate({**spec, "name": name}),
                                     seen={"store.nps", "store.queue"}, **WHO)["id"])
           for name, spec in specs.items()}
    app.apply_transitions([Transition(rule=ids[name], entity="store-042", metric="store.nps",
                                      labels={}, kind="raise", severity="P0", ts=T0.timestamp(),
                                      value=42.0, summary="low") for name in ids], **WHO)
    raised = {c.name: c for c in (to_contract(app.decode(n))
                                  for n in app.recorder.select_notifications(1, 100))
              if isinstance(c, AlertRaised)}
    assert {name: c.interval_seconds for name, c in raised.items()} == {
        "own-interval": 3600.0, "metric-interval": 86400.0, "every-sample": None}


def test_an_alert_stored_before_intervals_were_carried_reads_as_unknown():
    alert = nps_alert()
    raise_it(alert)  # raise_alert without interval_seconds, as every older event was stored
    raised = to_contract(alert.collect_events()[1])
    assert isinstance(raised, AlertRaised) and raised.interval_seconds is None


def test_a_worse_band_raises_a_firing_alert_and_is_published_as_the_same_alert_raised():
    alert = nps_alert()
    assert not alert.raise_severity("P0", 30.0, "worse", T0, **WHO)  # not firing: nothing
    alert.raise_alert(severity="P2", value=45.0, threshold=None, summary="P2 band",
                      started_at=T0, at=T0, **WHO)
    first = to_contract(alert.collect_events()[-1])
    assert alert.raise_severity("P0", 30.0, "store.nps for store-042 is 30 (band P0)",
                                T0 + timedelta(hours=1), **WHO)
    assert not alert.raise_severity("P0", 25.0, "again", T0 + timedelta(hours=2), **WHO)
    assert not alert.raise_severity("P3", 50.0, "better", T0 + timedelta(hours=2), **WHO)
    [raised] = alert.collect_events()
    contract = to_contract(raised)
    assert isinstance(contract, AlertRaised) and contract.severity == "P0"
    assert (contract.alert_id, contract.started_at, contract.fingerprint) == (
        first.alert_id, first.started_at, first.fingerprint)
    assert contract.summary == "store.nps for store-042 is 30 (band P0)"
