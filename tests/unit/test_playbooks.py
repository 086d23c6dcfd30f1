"""The seed playbooks shipped in examples/rules/playbooks.yaml: each rule passes the catalogue
checks, fires at its level on a series that should fire, and stays quiet on near misses."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pytest

from services.detector.rules import Engine, check_rule, load_rules_file

PLAYBOOKS = Path(__file__).resolve().parents[2] / "examples" / "rules" / "playbooks.yaml"
START = datetime(2026, 3, 2, tzinfo=timezone.utc).timestamp()   # a Monday, 00:00 UTC
DAY, QUARTER = 86400.0, 900.0


@pytest.fixture(scope="module")
def playbooks():
    return load_rules_file(PLAYBOOKS.read_text())


def series(metric: str, entity: str, values: Sequence[float], *, step: float = DAY,
           labels: Mapping[str, str] | None = None) -> list[tuple]:
    return [(metric, entity, dict(labels or {}), START + i * step, float(v))
            for i, v in enumerate(values)]


def raises(playbooks, rule_name: str, samples: list[tuple]) -> dict[str, list[str]]:
    """Severity of every alert the one rule raises, per entity (quiet entities map to [])."""
    rule = next(r for r in playbooks.rules if r.name == rule_name)
    metric = next(m for m in playbooks.metrics if m.name == rule.metric)
    engine = Engine()
    engine.set_rule(rule.name, rule, metric)
    evaluation = engine.evaluate_samples(samples)
    assert evaluation.rejected == []
    raised: dict[str, list[str]] = {s[1]: [] for s in samples}
    for t in evaluation.transitions:
        if t.kind == "raise":
            raised[t.entity].append(t.severity)
    return raised


def test_every_playbook_rule_passes_the_catalogue_checks(playbooks):
    metrics = {m.name: m for m in playbooks.metrics}
    assert [r.name for r in playbooks.rules] == [
        "orders-drop", "nps-low-or-falling", "wait-time-high", "nps-below-region",
        "orders-declining", "nps-level", "orders-off-region-mean", "nps-heading-under-55"]
    for rule in playbooks.rules:
        check_rule(rule, metrics)   # raises Invalid naming the field when a rule can't run


def test_orders_collapse_is_severe_only_when_also_under_50(playbooks):
    orders = "store.orders.daily"
    samples = [*series(orders, "collapse", [70, 45]),            # -36%, 45 orders
               *series(orders, "under-50-but-29pct", [62, 44]),  # -29%: moderate
               *series(orders, "deep-but-busy", [124, 80]),      # -35% at 80 orders: moderate
               *series(orders, "small-dip", [100, 81]),          # -19%
               *series(orders, "low-but-steady", [40, 40, 39])]  # under 50 without a fall
    assert raises(playbooks, "orders-drop", samples) == {
        "collapse": ["P1"], "under-50-but-29pct": ["P2"], "deep-but-busy": ["P2"],
        "small-dip": [], "low-but-steady": []}


def test_nps_low_or_falling_grades_level_and_daily_drop(playbooks):
    nps = "store.nps.daily"
    samples = [*series(nps, "below-55", [70, 54]),
               *series(nps, "drop-12", [70, 58]),       # 58 alone is moderate; the drop is severe
               *series(nps, "drop-8", [70, 62]),
               *series(nps, "at-55-drop-10", [65, 55]),  # both arms exactly on the boundary
               *series(nps, "at-60", [61, 60]),
               *series(nps, "drop-4", [66, 62]),
               *series(nps, "steady", [61, 61, 61.5])]
    assert raises(playbooks, "nps-low-or-falling", samples) == {
        "below-55": ["P1"], "drop-12": ["P1"], "drop-8": ["P2"], "at-55-drop-10": ["P2"],
        "at-60": ["P2"], "drop-4": [], "steady": []}


def test_waiting_time_is_severe_above_15_minutes_or_2_sigma(playbooks):
    wait = "store.wait_minutes"
    calm = [8, 10] * 30                     # mean 9, σ 1 over the trailing day
    wide = [6, 14] * 30                     # mean 10, σ 4: 15.5 is only 1.4σ
    samples = [*series(wait, "over-15", [*wide, 15.5], step=QUARTER),
               *series(wait, "2.5-sigma", [*calm, 11.5], step=QUARTER),
               *series(wait, "1.9-sigma", [*calm, 10.9], step=QUARTER),
               *series(wait, "14.9-wide", [*wide, 14.9], step=QUARTER),
               *series(wait, "too-little-history", [8, 9, 12], step=QUARTER)]
    assert raises(playbooks, "wait-time-high", samples) == {
        "over-15": ["P1"], "2.5-sigma": ["P1"], "1.9-sigma": [], "14.9-wide": [],
        "too-little-history": []}


def test_a_store_far_below_its_region_is_flagged(playbooks):
    nps = "store.nps.daily"
    peers = [70, 72, 74, 76]                # mean 73, σ √5 ≈ 2.236
    samples = []
    for region, outlier in (("north", 67.0), ("south", 73 - 1.5 * 5 ** 0.5)):
        for i, value in enumerate([*peers, outlier]):
            samples += series(nps, f"{region}-{i}", [value], labels={"region": region})
    samples += series(nps, "tiny-0", [75], labels={"region": "tiny"})   # 2 peers < min_peers
    samples += series(nps, "tiny-1", [75], labels={"region": "tiny"})
    samples += series(nps, "tiny-2", [20], labels={"region": "tiny"})
    raised = raises(playbooks, "nps-below-region", samples)
    assert {e: levels for e, levels in raised.items() if levels} == {"north-4": ["P2"]}
    assert raised["south-4"] == [] and raised["tiny-2"] == []   # 1.5σ below; too few peers


def test_three_days_of_decline_in_a_row(playbooks):
    orders = "store.orders.daily"
    samples = [*series(orders, "three-down", [100, 95, 90, 85]),
               *series(orders, "two-down", [100, 95, 90, 92]),
               *series(orders, "flat-then-two-down", [100, 100, 95, 90])]
    assert raises(playbooks, "orders-declining", samples) == {
        "three-down": ["P2"], "two-down": [], "flat-then-two-down": []}


@pytest.mark.parametrize("value, levels", [
    (29.9, ["P0"]), (30, ["P1"]), (49.9, ["P1"]), (50, ["P2"]), (60, ["P2"]), (60.1, []),
    (75, [])])
def test_single_day_nps_levels_and_their_boundaries(playbooks, value, levels):
    samples = series("store.nps.daily", "store-1", [value])
    assert raises(playbooks, "nps-level", samples) == {"store-1": levels}


def test_orders_more_than_30_percent_off_the_region_mean(playbooks):
    orders = "store.orders.daily"
    peers = [100, 110, 90]                  # the region's mean is 100
    samples = []
    for candidate in (65, 135, 75, 125):     # each beside the same three peers
        region = f"r{candidate}"
        for i, value in enumerate([*peers, candidate]):
            samples += series(orders, f"{region}-{i}", [value], labels={"region": region})
    raised = raises(playbooks, "orders-off-region-mean", samples)
    # −35% and +35% are flagged; −25% and +25% are not, though 25 is ≈ 3σ of this region.
    assert {e: levels for e, levels in raised.items() if levels} == {
        "r65-3": ["P2"], "r135-3": ["P2"]}


def test_nps_heading_under_55_warns_days_before_it_gets_there(playbooks):
    nps = "store.nps.daily"
    steady = [70, 71, 69, 70, 70.5, 69.5, 70, 71, 69, 70, 70.5, 69.5, 70, 70.2]
    falling = [*steady, 68, 66.5, 65, 63, 61.5, 60, 58.5, 57, 55.5, 54]   # −1.5 a day
    samples = [*series(nps, "falling", falling), *series(nps, "steady", steady * 2)]
    assert raises(playbooks, "nps-heading-under-55", samples) == {
        "falling": ["P3"], "steady": []}
    rule = next(r for r in playbooks.rules if r.name == "nps-heading-under-55")
    metric = next(m for m in playbooks.metrics if m.name == nps)
    engine = Engine()
    engine.set_rule(rule.name, rule, metric)
    (warned,) = [t for t in engine.evaluate_samples(series(nps, "falling", falling)).transitions
                 if t.kind == "raise"]
    went_under = START + DAY * falling.index(54)
    assert DAY <= went_under - warned.ts <= 4 * DAY   # days ahead: a 3-day horizon, ± a day
    assert warned.ts < warned.predicted_crossing_at <= warned.ts + 3 * DAY
