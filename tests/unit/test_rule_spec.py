"""The rule language: what parses, what round-trips, and every refusal saying why
(structural ones from the models, context ones from check_rule)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.detector.rules import (MetricSpec, RuleSpec, RulesFile, check_rule,
                                     load_rules_file, parse_duration, rule_horizon)
from shared.errors import Invalid

DOCS = Path(__file__).resolve().parents[2] / "docs"


def rule(when=None, **fields) -> RuleSpec:
    body = {"name": "r", "metric": "store.orders", **fields}
    if when is not None:
        body.update(when=when, severity=fields.get("severity", "P2"))
    return RuleSpec.model_validate(body)


def refused(fragment: str, when=None, **fields) -> None:
    with pytest.raises(ValidationError) as caught:
        rule(when, **fields)
    assert fragment in str(caught.value), str(caught.value)


VALUE = {"value": {}}
DOD = {"change": {"reference": "previous", "unit": "pct"}}


# -- parsing -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, seconds", [("90s", 90), ("15m", 900), ("2h", 7200),
                                            ("1d", 86400), ("1w", 604800), ("400d", 400 * 86400),
                                            (30, 30)])
def test_durations_parse_to_seconds(text, seconds):
    assert parse_duration(text) == seconds


def test_a_duration_without_a_unit_is_refused_with_the_units():
    with pytest.raises(ValueError, match="write a number and a unit"):
        parse_duration("15 minutes")
    with pytest.raises(ValidationError, match="is not a duration"):
        rule({"missing": {"after": "soon"}}, interval="1m")


def test_the_documented_example_loads_and_round_trips():
    example = re.search(r"```yaml\n(.*?)```", (DOCS / "rules.md").read_text(), re.S)[1]
    rules = load_rules_file(example)
    spec = rules.rules[0]
    assert spec.bands[0].level == "P1" and spec.clear_after == 2 and spec.for_ == 1
    dumped = spec.model_dump(mode="json")
    assert "for" in dumped and "not" not in json.dumps(dumped)  # aliases, no nulls
    assert RuleSpec.model_validate(dumped) == spec
    assert RuleSpec.model_validate_json(spec.model_dump_json()) == spec


def test_json_text_loads_too():
    text = json.dumps({"version": 1, "metrics": [{"name": "m", "interval": "1m"}],
                       "rules": [{"name": "x", "metric": "m", "severity": "P3",
                                  "when": {"not": {"value": {}, "above": 3}}, "for": "15m"}]})
    loaded = load_rules_file(text)
    assert loaded.rules[0].for_ == "15m"
    assert RulesFile.model_validate(loaded.model_dump(mode="json")) == loaded


def test_the_published_schema_is_current():
    current = json.dumps(RulesFile.model_json_schema(), indent=2) + "\n"
    on_disk = (DOCS / "rules.schema.json").read_text()
    assert on_disk == current, ("docs/rules.schema.json is stale; regenerate it with "
                                "json.dumps(RulesFile.model_json_schema(), indent=2)")


# -- structural refusals -----------------------------------------------------------------------
def test_a_typo_is_refused_naming_the_field():
    with pytest.raises(ValidationError) as caught:
        RuleSpec.model_validate({"name": "r", "metric": "m", "when": {**VALUE, "above": 1},
                                 "severty": "P1"})
    assert "severty" in str(caught.value) and "Extra inputs are not permitted" in str(caught.value)


def test_when_and_bands_are_exclusive_and_one_is_needed():
    refused("either `when` + `severity`", {**VALUE, "above": 1},
            bands=[{"level": "P1", "when": {**VALUE, "above": 2}}])
    refused("`when` is missing", severity="P1")
    with pytest.raises(ValidationError, match="`severity` is missing"):
        RuleSpec.model_validate({"name": "r", "metric": "m", "when": {**VALUE, "above": 1}})


@pytest.mark.parametrize("when, why", [
    ({**VALUE, "between": [5, 3]}, "between [5, 3]: lo 5 is greater than hi 3"),
    ({**VALUE, "outside": [9, 1]}, "outside [9, 1]: lo 9 is greater than hi 1"),
    ({**VALUE, "above": 10, "below": 5}, "above 10 & below 5 can never all hold"),
    ({**VALUE, "at_least": 5, "at_most": 3}, "at_least 5 & at_most 3 can never all hold"),
    ({**VALUE, "above": 5, "at_most": 5}, "can never all hold"),
    ({**VALUE, "between": [0, 10], "outside": [-1, 11]}, "can never all hold"),
    ({**VALUE, "above": {"by": "size", "large": 8, "*": 2}, "below": 6},
     "can never all hold for class 'large'"),
    ({**VALUE, "above": {"size": 8}}, "a class-graded bound needs `by`"),
    ({**VALUE, "above": {"by": "size"}}, "needs at least one class value"),
    ({**VALUE, **DOD, "below": 1}, "exactly one measure, combination or ref"),
    ({}, "a condition needs one measure"),
    (VALUE, "when: it is measure 'value' without a bound"),
    ({"missing": {"after": "1h"}, "above": 1}, "missing takes no bound"),
    ({"all": [{**VALUE, "above": 1}], "below": 3}, "go on a measure, not on 'all'"),
    ({"any": []}, "at least 1 item"),
    ({"deviation": {"window": 10, "min_samples": 20}, "above": 3}, "can never be reached"),
])
def test_structural_refusals_say_why(when, why):
    refused(why, when, interval="1m")


def test_a_condition_under_all_needs_a_bound_too():
    refused("when.all[1]: it is measure 'value' without a bound",
            {"all": [{**VALUE, "above": 1}, VALUE]})


def test_bands_are_unique_ordered_and_disjoint_on_one_measure():
    def bands(*pairs, **fields):
        return [{"level": lvl, "when": when} for lvl, when in pairs]
    refused("band level P1 appears twice",
            bands=bands(("P1", {**VALUE, "above": 9}), ("P1", {**VALUE, "above": 5})))
    refused("most severe first (P0 before P1 …): P1 comes after P2",
            bands=bands(("P2", {**VALUE, "above": 9}), ("P1", {**VALUE, "above": 5})))
    refused("overlap on the same value measure at [45, 50]",
            bands=bands(("P1", {**VALUE, "between": [30, 50]}), ("P2", {**VALUE, "between": [45, 60]})))
    refused("overlap on the same change measure",
            conditions={"dod": DOD},
            bands=bands(("P1", {"ref": "dod", "below": -20}), ("P2", {"ref": "dod", "below": -10})))
    ok = rule(bands=bands(("P0", {**VALUE, "below": 30}), ("P1", {**VALUE, "between": [30, 50]})))
    assert [b.level for b in ok.bands] == ["P0", "P1"]
    # different measures may overlap: the first band that holds wins
    rule(bands=bands(("P1", {**DOD, "below": -20}), ("P2", {**VALUE, "below": 50})))


def test_named_conditions_must_exist_and_not_form_a_cycle():
    refused("when: ref 'dood' names no condition; named conditions: dod",
            {"ref": "dood", "below": 1}, conditions={"dod": DOD})
    refused("conditions form a cycle: a → b → a", {"ref": "a"},
            conditions={"a": {"all": [{"ref": "b"}]}, "b": {"not": {"ref": "a"}}})
    refused("conditions form a cycle: c → c", {"ref": "c"}, conditions={"c": {"any": [{"ref": "c"}]}})
    refused("ref 'both' has its own bound, so it must name a measure condition",
            {"ref": "both", "above": 1},
            conditions={"both": {"all": [{**VALUE, "above": 1}, {**VALUE, "below": 9}]}})
    refused("ref 'dod' names measure 'change' without a bound", {"ref": "dod"},
            conditions={"dod": DOD})


def test_rule_and_metric_names_are_unique_in_a_file():
    with pytest.raises(ValidationError, match="rule names must be unique; declared twice: x"):
        RulesFile.model_validate({"rules": [
            {"name": "x", "metric": "m", "severity": "P1", "when": {**VALUE, "above": 1}}] * 2})


# -- context refusals (check_rule) -----------------------------------------------------------
CATALOGUE = {"store.orders": MetricSpec(name="store.orders", interval="1h"),
             "store.nps": MetricSpec(name="store.nps", interval="1d", retention="400d"),
             "store.visits": MetricSpec(name="store.visits")}


def context_refusal(spec: RuleSpec) -> Invalid:
    with pytest.raises(Invalid) as caught:
        check_rule(spec, CATALOGUE)
    return caught.value


def test_an_unknown_metric_is_refused_with_suggestions():
    error = context_refusal(rule({**VALUE, "above": 1}, metric="store.ordrs"))
    assert error.field == "metric"
    assert error.message == ("unknown metric 'store.ordrs'; declare it under metrics: or send a "
                             "sample first. Did you mean: store.orders?")
    assert "Did you mean" not in context_refusal(rule({**VALUE, "above": 1}, metric="zzz")).message


def test_history_beyond_retention_is_refused_naming_the_measure_and_both_durations():
    error = context_refusal(rule(bands=[{"level": "P1", "when": {
        "change": {"reference": "year"}, "below": -10}}]))
    assert error.field == "bands[0].when.change.reference"
    assert "change vs year needs 364d of history but metric 'store.orders' keeps 35d" in error.message
    error = context_refusal(rule({"all": [{**VALUE, "above": 1},
                                          {"deviation": {"window": 1000}, "above": 3}]}))
    assert error.field == "when.all[1].deviation.window"
    assert "deviation window 1000 needs 41d16h of history" in error.message
    error = context_refusal(rule({"ref": "fc", "below": -3},
                                 conditions={"fc": {"forecast": {"season": "1w", "seasons": 6}}}))
    assert error.field == "conditions.fc.forecast.seasons" and "42d" in error.message
    error = context_refusal(rule({**VALUE, "above": 1}, clear_after="40d"))
    assert error.field == "clear_after" and "`clear_after` 40d needs 40d" in error.message
    check_rule(rule({"change": {"reference": "year"}, "below": -10}, metric="store.nps"), CATALOGUE)


def test_measures_that_count_intervals_need_one():
    error = context_refusal(rule({"streak": {"direction": "down"}, "at_least": 3},
                                 metric="store.visits"))
    assert error.field == "when.streak" and "gives an `interval`" in error.message
    check_rule(rule({"streak": {"direction": "down"}, "at_least": 3}, metric="store.visits",
                    interval="1h"), CATALOGUE)


def test_an_interval_that_does_not_divide_the_reference_is_refused():
    error = context_refusal(rule({"change": {"reference": "day"}, "below": -10}, interval="7h"))
    assert error.field == "when.change.reference" and "7h does not divide 1d" in error.message
    error = context_refusal(rule({"forecast": {"season": "1d"}, "below": -3}, interval="7h"))
    assert error.field == "when.forecast.season"


def test_rule_horizon_is_the_longest_need():
    orders = CATALOGUE["store.orders"]
    assert rule_horizon(rule({**VALUE, "above": 1}), orders) == 0
    assert rule_horizon(rule({"change": {"reference": "previous"}, "below": -1}), orders) == 3600
    assert rule_horizon(rule({"any": [{"change": {"reference": "week"}, "below": -1},
                                      {"deviation": {"window": 30}, "above": 3}]}), orders) == 7 * 86400
    assert rule_horizon(rule({"deviation": {"window": 30}, "above": 3}), orders) == 30 * 3600
    assert rule_horizon(rule({"missing": {"after": "2h"}}, **{"for": "3h"}), orders) == 3 * 3600
