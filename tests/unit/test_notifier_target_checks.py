"""A ladder is refused when a target does not exist or a step could reach nobody; the error
names the field as it was written."""
from __future__ import annotations

import pytest

from services.notifier.directory.chart import OrgChart
from services.notifier.target_checks import Reach, check_targets
from shared.errors import Invalid

CHART = OrgChart(
    people={"li.na": {"contacts": [{"medium": "im", "address": "@li.na", "channel": "im"}]},
            "wu.qi": {"contacts": [{"medium": "sms", "address": "+86", "channel": "sms"}]},
            "ma.chao": {"contacts": [{"medium": "im", "address": "@ma", "channel": "im"}],
                        "left": True}},
    units={"store": {"key": "store", "roles": {"店长": ["li.na"], "前店长": ["ma.chao"]},
                     "entities": []}},
    teams={"sre": {"members": ["li.na"]}, "night": {"members": ["wu.qi"]}})
REACH = Reach(chart=CHART, channel_ids={"ch-1"}, channel_names={"im"},
              schedule_exists=lambda name: name == "sre-primary")


def ladder(*steps: list[tuple[str, str]]) -> dict:
    return {"steps": [{"targets": [{"kind": k, "ref": r} for k, r in targets],
                       "delay_seconds": 60} for targets in steps]}


def test_targets_that_exist_and_can_reach_someone_pass():
    check_targets(ladder([("person", "li.na")], [("schedule", "sre-primary")],
                         [("team", "sre"), ("role", "店长"), ("channel", "ch-1")]), False, REACH)


@pytest.mark.parametrize("target, field, why", [
    (("channel", "ch-9"), "steps[0].targets[0].ref", "does not exist"),
    (("person", "nobody"), "steps[0].targets[0].ref", "not a person"),
    (("person", "ma.chao"), "steps[0].targets[0].ref", "has left"),
    (("schedule", "night-shift"), "steps[0].targets[0].ref", "does not exist"),
    (("team", "dba"), "steps[0].targets[0].ref", "does not exist"),
    (("role", "前店长"), "steps[0].targets[0].ref", "nobody in the organisation holds"),
    (("person", "wu.qi"), "steps[0].targets", "nobody on this step can be told"),
    (("team", "night"), "steps[0].targets", "nobody on this step can be told"),
])
def test_a_target_that_reaches_nobody_is_refused_naming_the_field(target, field, why):
    with pytest.raises(Invalid) as refused:
        check_targets(ladder([target]), False, REACH)
    assert refused.value.field == field and why in str(refused.value)


def test_someone_who_left_may_stay_where_a_policy_already_named_them():
    kept = Reach(**{**REACH.__dict__, "people_before": ["ma.chao"]})
    check_targets(ladder([("person", "ma.chao"), ("person", "li.na")]), False, kept)


def test_the_shorthand_names_its_own_fields():
    with pytest.raises(Invalid) as refused:
        check_targets(ladder([("channel", "ch-1")], [("channel", "ch-2")]), True, REACH)
    assert refused.value.field == "escalate_to"
