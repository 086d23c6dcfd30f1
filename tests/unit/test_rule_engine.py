"""The engine's life cycle and sample handling: hysteresis, bands, budgets, ordering and
refusals, and that batching never changes the outcome."""
from __future__ import annotations

import numpy as np
import pytest

from services.detector.rules import Engine, MetricSpec, RuleSpec
from shared.errors import Invalid

HOUR, DAY = 3600.0, 86400.0
T0 = 19675 * DAY
METRIC = MetricSpec(name="m", interval="1h", retention="35d")


def spec(**fields) -> RuleSpec:
    return RuleSpec.model_validate({"name": "r", "metric": "m", **fields})


def threshold(**fields) -> RuleSpec:
    return spec(**{"when": {"value": {}, "above": 10}, "severity": "P2", **fields})


def engine_with(*rules: RuleSpec) -> Engine:
    engine = Engine()
    for i, rule in enumerate(rules):
        engine.set_rule(f"k{i}", rule, METRIC)
    return engine


def feed(engine, values, entity="e", labels=None, start=T0, step=HOUR):
    return engine.evaluate_samples(
        [("m", entity, labels or {}, start + i * step, v) for i, v in enumerate(values)]).transitions


def story(transitions) -> list[tuple[str, str | None, int]]:
    return [(t.kind, t.severity, round((t.ts - T0) / HOUR)) for t in transitions]


FLAPPING = [20, 5, 20, 5, 20, 20, 5, 20, 5, 5, 5, 5]


# -- hysteresis -----------------------------------------------------------------------------------
def test_without_hysteresis_a_flapping_series_alerts_on_every_flap():
    raises = [t for t in feed(engine_with(threshold()), FLAPPING) if t.kind == "raise"]
    assert len(raises) == 4


def test_for_and_clear_after_counts_make_a_flapping_series_raise_once():
    transitions = feed(engine_with(threshold(**{"for": 2, "clear_after": 3})), FLAPPING)
    assert story(transitions) == [("raise", "P2", 5), ("resolve", "P2", 10)]
    assert transitions[1].summary == "m for e is 5: no longer breaching (3 quiet evaluations in a row)"


def test_for_and_clear_after_durations():
    engine = engine_with(threshold(**{"for": "2h", "clear_after": "3h"}))
    values = [20, 5, 20, 20, 20, 5, 20, 5, 5, 5]
    # breaching since hour 2, for 2h by hour 4; quiet since hour 7 (the 5 at hour 5 was
    # interrupted at hour 6), 3h later at hour 10
    assert story(feed(engine, values)) == [("raise", "P2", 4)]
    assert story(feed(engine, [5], start=T0 + 10 * HOUR)) == [("resolve", "P2", 10)]


def test_a_clear_after_duration_resolves_by_the_clock():
    engine = engine_with(threshold(clear_after="3h"))
    feed(engine, [20, 5])                        # raised at 0, quiet since hour 1
    assert engine.tick(T0 + 3.5 * HOUR) == []
    resolved = engine.tick(T0 + 4 * HOUR)
    assert story(resolved) == [("resolve", "P2", 4)] and resolved[0].value is None
    assert resolved[0].summary == "m for e: no longer breaching (quiet for 3h)"


# -- bands -----------------------------------------------------------------------------------------
BANDS = spec(bands=[{"level": "P0", "when": {"value": {}, "above": 100}},
                    {"level": "P1", "when": {"value": {}, "between": [50, 100]}},
                    {"level": "P3", "when": {"ref": "any_rise", "above": 0}}],
             conditions={"any_rise": {"change": {"reference": "previous", "unit": "abs"}}})


@pytest.mark.parametrize("values, level", [([1, 150], "P0"), ([1, 60], "P1"), ([1, 2], "P3"),
                                           ([200, 150], "P0"), ([60, 70], "P1")])
def test_the_first_band_that_holds_sets_the_severity(values, level):
    transitions = feed(engine_with(BANDS), values)
    assert [t.severity for t in transitions if t.kind == "raise"] == [level]
    assert transitions[-1].summary.endswith(f"(band {level})")


def test_a_worse_band_raises_the_firing_alert_a_better_one_never_lowers_it():
    engine = engine_with(BANDS)
    transitions = feed(engine, [60, 150, 70, 200, 20])
    assert story(transitions) == [("raise", "P1", 0), ("worsen", "P0", 1), ("resolve", "P0", 4)]
    assert transitions[1].summary == "m for e is 150: above 100 (band P0, worse than P1)"
    # Firing at P0 after the worse band, whatever band holds since.
    engine = engine_with(BANDS)
    feed(engine, [60, 150, 70])
    assert [r[2] for r in engine.firing()] == ["P0"]


def test_a_worse_band_in_the_same_batch_as_the_raise_or_in_the_next_is_the_same():
    together = feed(engine_with(BANDS), [60, 150])
    engine = engine_with(BANDS)
    apart = feed(engine, [60]) + feed(engine, [150], start=T0 + HOUR)
    assert story(together) == story(apart) == [("raise", "P1", 0), ("worsen", "P0", 1)]


def test_a_suppressed_alert_does_not_worsen():
    engine = engine_with(spec(bands=BANDS.model_dump(by_alias=True)["bands"][:2],
                              budget={"per_day": {"P1": 0}}))
    assert story(feed(engine, [60, 150])) == [("suppress", "P1", 0)]


# -- budget ----------------------------------------------------------------------------------------
def test_raises_beyond_the_budget_are_suppressed_counted_and_never_resolved():
    engine = engine_with(threshold(budget={"per_day": 2}))
    first = [feed(engine, [20], entity=f"e{i}")[0].kind for i in range(5)]
    assert first == ["raise", "raise", "suppress", "suppress", "suppress"]
    quiet = [feed(engine, [1], entity=f"e{i}", start=T0 + HOUR) for i in range(5)]
    assert [[t.kind for t in ts] for ts in quiet] == [["resolve"], ["resolve"], [], [], []]
    again = feed(engine, [20], entity="e4", start=T0 + 2 * HOUR)
    assert [t.kind for t in again] == ["suppress"]
    next_day = feed(engine, [20], entity="e0", start=T0 + DAY)
    assert [t.kind for t in next_day] == ["raise"]
    day = "2023-11-14"
    assert engine.budget_report()["k0"][day]["P2"] == {"raised": 2, "suppressed": 4}
    assert engine.budget_report()["k0"]["2023-11-15"]["P2"] == {"raised": 1, "suppressed": 0}
    assert "suppressed: 2 raises per day spent" in again[0].summary


def test_a_budget_per_level_leaves_other_levels_free():
    engine = engine_with(spec(bands=[{"level": "P0", "when": {"value": {}, "above": 100}},
                                     {"level": "P3", "when": {"value": {}, "between": [10, 100]}}],
                              budget={"per_day": {"P3": 1}}))
    kinds = [feed(engine, [v], entity=f"e{i}")[0].kind
             for i, v in enumerate([50, 50, 500, 500])]
    assert kinds == ["raise", "suppress", "raise", "raise"]


# -- samples: order and refusals ---------------------------------------------------------------------
CHANGE = spec(when={"change": {"reference": "previous", "unit": "abs"}, "below": -50},
              severity="P1")


def test_an_out_of_order_sample_is_refused_and_changes_nothing():
    engine = engine_with(CHANGE)
    sid = engine.series("m", "e")
    before = engine.evaluate(np.array([sid, sid]), np.array([T0, T0 + HOUR]), np.array([100.0, 90]))
    assert before.rejected == []
    late = engine.evaluate(np.array([sid, sid, sid]), np.array([T0 + HOUR, T0 + 0.5 * HOUR, T0 + 2 * HOUR]),
                           np.array([0.0, -500, 60]))
    assert late.rejected == [(0, "out_of_order"), (1, "out_of_order")]
    assert late.transitions == []  # 60 vs 90 is -30: the refused samples left no trace
    assert story(engine.evaluate(np.array([sid]), np.array([T0 + 3 * HOUR]),
                                 np.array([5.0])).transitions) == [("raise", "P1", 3)]


def test_refusals_name_their_reason_and_keep_the_batch_going():
    engine = engine_with(threshold())
    sid = engine.series("m", "e")
    other = engine.series("m", "f")
    result = engine.evaluate(np.array([sid, sid, 99, other, sid]),
                             np.array([T0, T0, T0, np.inf, T0 + 1]),
                             np.array([20.0, 30, 1, 1, np.nan]))
    assert result.rejected == [(1, "out_of_order"), (2, "unknown_series"), (3, "not_finite"),
                               (4, "not_finite")]
    assert [(t.entity, t.value) for t in result.transitions] == [("e", 20.0)]


def test_a_batch_may_come_in_any_order():
    engine = engine_with(threshold(**{"for": 2}))
    sid = engine.series("m", "e")
    result = engine.evaluate(np.array([sid, sid, sid]), np.array([T0 + 2 * HOUR, T0, T0 + HOUR]),
                             np.array([20.0, 20, 1]))
    assert result.rejected == [] and result.transitions == []   # 20, 1, 20: never two in a row


def _random_samples(seed=5, entities=12, hours=60):
    rng = np.random.default_rng(seed)
    rows = []
    for e in range(entities):
        values = 100 + np.cumsum(rng.normal(0, 8, hours))
        for h in range(hours):
            if rng.random() < 0.9:  # some gaps
                rows.append(("m", f"e{e}", {"tier": "a" if e % 2 else "b"}, T0 + h * HOUR + e, float(values[h])))
    return rows


MIXED_RULES = [
    CHANGE,
    spec(when={"deviation": {"method": "zscore", "window": 8}, "outside": [-1.5, 1.5]},
         severity="P3", **{"for": 2, "clear_after": "3h"}),
    spec(when={"streak": {"direction": "down"}, "at_least": 3}, severity="P2", clear_after=2),
    spec(bands=[{"level": "P1", "when": {"value": {}, "above": {"by": "tier", "a": 130, "*": 140}}},
                {"level": "P2", "when": {"deviation": {"method": "ewma", "window": 6}, "below": -1}}],
         budget={"per_day": 6}),
    spec(when={"deviation": {"method": "mad", "window": 9}, "above": 2}, severity="P3"),
]


def _outcome(transitions):
    return sorted((t.rule, t.entity, t.kind, t.severity, t.ts, t.value, t.summary) for t in transitions)


def test_splitting_the_same_samples_into_batches_gives_the_same_transitions():
    rows = _random_samples()
    whole = engine_with(*MIXED_RULES).evaluate_samples(rows).transitions
    assert len(whole) > 20
    for seed, parts in ((1, 7), (2, 30), (3, 2)):
        engine = engine_with(*MIXED_RULES)
        shuffled = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))]
        by_time = sorted(shuffled, key=lambda r: r[3])  # batches follow time, in shuffled order
        cuts = np.linspace(0, len(rows), parts + 1).astype(int)
        split = []
        for lo, hi in zip(cuts, cuts[1:]):
            chunk = by_time[lo:hi]
            np.random.default_rng(seed + lo).shuffle(chunk)
            split += engine.evaluate_samples(chunk).transitions
        assert _outcome(split) == _outcome(whole)


def test_evaluate_and_evaluate_samples_agree():
    rows = _random_samples(seed=9)
    by_samples = engine_with(*MIXED_RULES).evaluate_samples(rows)
    engine = engine_with(*MIXED_RULES)
    ids = np.array([engine.series(m, e, labels) for m, e, labels, _, _ in rows])
    by_arrays = engine.evaluate(ids, np.array([r[3] for r in rows]), np.array([r[4] for r in rows]))
    assert by_arrays.transitions == by_samples.transitions and by_arrays.rejected == by_samples.rejected


# -- rules and series --------------------------------------------------------------------------------
def test_a_rule_watches_its_metric_and_matching_labels_only():
    engine = engine_with(threshold(match={"format": "mall"}))
    rows = [("m", "mall", {"format": "mall"}, T0, 20.0), ("m", "kiosk", {"format": "kiosk"}, T0, 20.0),
            ("other", "mall", {"format": "mall"}, T0, 20.0)]
    assert [(t.metric, t.entity, t.labels) for t in engine.evaluate_samples(rows).transitions] == [
        ("m", "mall", {"format": "mall"})]
    # latest labels win: the kiosk became a mall
    assert [t.entity for t in feed(engine, [20], "kiosk", {"format": "mall"}, start=T0 + HOUR)] == ["kiosk"]


def test_replacing_a_rule_resets_its_state_and_keeps_the_others():
    engine = engine_with(threshold(), threshold(severity="P1", when={"value": {}, "above": 15}))
    feed(engine, [20])
    assert sorted(r[:3] for r in engine.firing()) == [("k0", "e", "P2"), ("k1", "e", "P1")]
    engine.set_rule("k0", threshold(severity="P3"), METRIC)
    assert [r[:3] for r in engine.firing()] == [("k1", "e", "P1")]
    assert story(feed(engine, [20], start=T0 + HOUR)) == [("raise", "P3", 1)]
    engine.remove_rule("k1")
    assert [r[0] for r in engine.firing()] == ["k0"]
    assert engine.firing()[0][3] == T0 + HOUR


def test_set_rule_refuses_a_rule_it_cannot_evaluate():
    with pytest.raises(Invalid, match="gives an `interval`"):
        Engine().set_rule("k", spec(when={"streak": {"direction": "up"}, "above": 2}, severity="P3"))


def test_state_bytes_grow_with_the_series_a_rule_has_seen():
    engine = engine_with(threshold(), spec(when={"deviation": {"window": 30}, "above": 3}, severity="P3"))
    empty = engine.state_bytes()
    for i in range(100):
        feed(engine, [1.0], entity=f"e{i}")
    grown = engine.state_bytes()
    assert grown["k1"] - empty["k1"] >= 100 * 30 * 8 > grown["k0"] - empty["k0"] > 0
