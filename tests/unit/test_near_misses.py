"""Near misses (险些触发): the rule engine's band with hysteresis, the detector application's
once-per-entry record, and 举一反三's reason in words for a peer where the rule nearly fired."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from services.capa.domain.spread import NearMiss, Subject, at_risk
from services.detector.app import DetectorApplication
from services.detector.near_miss import NearMiss as NearMissRecord
from services.detector.rules import Engine
from services.detector.rules.spec import RuleSpec
from services.detector.domain import rule_fingerprint
from services.detector.translate import to_contract
from shared.clock import ManualClock
from shared.contracts import RuleNearMiss

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
NPS = {"name": "NPS collapse", "metric": "store.nps", "severity": "P0",
       "when": {"value": {}, "below": 30}}


def engine_with(**rule) -> Engine:
    engine = Engine()
    engine.set_rule("nps", RuleSpec.model_validate({**NPS, **rule}))
    return engine


def kinds(engine: Engine, values, entity: str = "store-017") -> list[tuple[float, str]]:
    said = []
    for i, value in enumerate(values):
        for t in engine.evaluate_samples(
                [("store.nps", entity, {}, T0.timestamp() + i, value)]).transitions:
            said.append((value, t.kind))
    return said


def test_a_value_entering_the_band_is_one_near_miss_until_it_leaves_beyond_the_exit():
    # below 30 with the default 10 %: 30..33 is near; 34.5 and beyond leaves.
    said = kinds(engine_with(), [50, 40, 32, 31, 33.5, 34, 31, 29, 31, 40, 46, 32])
    assert said == [(32, "near"), (29, "raise"), (31, "resolve"), (32, "near")]


def test_the_band_is_on_the_safe_side_of_an_upper_bound_and_follows_the_rule_s_share():
    engine = Engine()
    engine.set_rule("wait", RuleSpec.model_validate({
        "name": "queue wait", "metric": "store.nps", "severity": "P2",
        "when": {"value": {}, "above": 10}, "near_miss": 0.2}))
    assert kinds(engine, [5, 7.9, 8, 9.5, 12]) == [(8, "near"), (12, "raise")]
    near = kinds(engine_with(near_miss=0), [50, 31, 30.5])
    assert near == []  # 0 turns near misses off


def test_near_transitions_carry_the_value_threshold_and_band():
    engine = engine_with()
    (t,) = engine.evaluate_samples([("store.nps", "store-017", {"region": "south"},
                                     T0.timestamp(), 31.0)]).transitions
    assert (t.kind, t.value, t.bound, t.threshold, t.near_share, t.severity) == (
        "near", 31.0, "below", 30.0, 0.1, "P0")
    assert t.summary == "store.nps for store-017: 31, within 10% of below 30"
    # What a rebuilt engine knows is inside the band (the evaluator's reconcile).
    assert [(n.entity, n.value) for n in engine.near()] == [("store-017", 31.0)]


@pytest.mark.parametrize("when", [
    {"value": {}, "between": [10, 20]}, {"all": [{"value": {}, "below": 3},
                                                 {"value": {}, "above": 1}]},
    {"value": {}, "below": 0}])
def test_near_miss_on_a_rule_without_one_threshold_is_refused_with_the_reason(when):
    with pytest.raises(ValidationError) as refused:
        RuleSpec.model_validate({**NPS, "when": when, "near_miss": 0.1})
    assert "near_miss needs a rule whose `when` is one measure" in str(refused.value)
    # Without near_miss the same rule is fine: it just has no band.
    assert engine_with(when=when) is not None


def test_the_detector_records_each_entry_once_and_a_replay_changes_nothing(store_env):
    app = DetectorApplication(store_env, ManualClock(T0))
    engine = engine_with()
    evaluations = [engine.evaluate_samples([("store.nps", "store-017", {}, T0.timestamp() + i,
                                             v)]).transitions for i, v in enumerate(
        [31, 33, 40, 32])]
    for transitions in evaluations:
        app.apply_transitions(transitions, actor="detector:test", cause={})
    for transitions in evaluations:  # a rebuild repeating itself
        app.apply_transitions(transitions, actor="detector:rebuild", cause={})
    # The reconcile after a rebuild re-announces the series inside: nothing new.
    app.apply_transitions(engine.near(), actor="detector:rebuild", cause={})
    record_id = NearMissRecord.create_id(rule_fingerprint("nps", "store-017"))
    stored = [type(e).__name__ for e in app.stored_events(record_id)]
    assert stored == ["Watched", "Entered", "Entered"]  # 31 in, 40 out (not recorded), 32 in
    published = [c for c in map(to_contract, app.stored_events(record_id)) if c is not None]
    assert [type(c) for c in published] == [RuleNearMiss, RuleNearMiss]
    assert (published[1].value, published[1].threshold, published[1].bound) == (32, 30, "below")


def test_a_peer_where_the_rule_nearly_fired_is_at_risk_with_the_reason_in_words():
    subject = Subject(entity="store-042", labels={"region": "south"}, rule="nps",
                      category="man")
    seen = T0 - timedelta(days=3)
    near = [NearMiss("NPS collapse", "store.nps", "store-017", {"region": "south"}, "below",
                     30.0, 31.0, seen),
            NearMiss("NPS collapse", "store.nps", "store-900", {"region": "west"}, "below",
                     30.0, 31.0, seen)]
    (peer,) = at_risk(subject, [], [], ["region"], T0 - timedelta(days=30), near)
    assert peer.entity == "store-017" and peer.last_seen == seen
    assert peer.reasons == ["shares region=south with store-042",
                            "nearly fired: store.nps 31 vs threshold 30 on 2026-11-28"]
