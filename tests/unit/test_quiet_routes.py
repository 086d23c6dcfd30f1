"""The routing tree picks escalation policies as Alertmanager's picks receivers: first
matching child, `continue` to go on, the parent when no child matches, inherited receivers,
and severity alone when nothing else is said."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.notifier.quiet.tree import check_receivers, parse_tree, route
from shared.errors import Invalid


@dataclass
class Policy:
    name: str
    severities: tuple[str, ...]
    enabled: bool = True

    def matches(self, severity: str) -> bool:
        return self.enabled and severity in self.severities


POLICIES = [Policy("critical", ("P0", "P1")), Policy("daytime", ("P2", "P3")),
            Policy("db-oncall", ()), Policy("stores", ()), Policy("audit", ()),
            Policy("retired", ("P0",), enabled=False)]

TREE = {
    "routes": [
        {"matchers": ['team="db"'], "receiver": "db-oncall",
         "routes": [{"matchers": ['env="staging"'], "receiver": "daytime"}]},
        {"matchers": ['store=~".+"'], "receiver": "audit", "continue": True},
        {"matchers": ['store=~"深圳.*"'], "receiver": "stores"},
        {"matchers": ['store=~".+"'], "receiver": "critical"},
        {"matchers": ['kind="capa"']},  # no receiver: the root's, severity
    ],
}


def policies_for(labels: dict[str, str], tree: dict = TREE) -> list[str]:
    return route(parse_tree(tree), labels, POLICIES).policies


def test_without_a_tree_severity_alone_routes_to_every_enabled_policy_covering_it():
    assert policies_for({"severity": "P0"}, {}) == ["critical"]  # "retired" is disabled
    assert policies_for({"severity": "P3"}, {}) == ["daytime"]
    assert policies_for({}, {}) == []


def test_the_first_matching_child_wins_and_its_children_refine_it():
    assert policies_for({"team": "db", "severity": "P0"}) == ["db-oncall"]
    assert policies_for({"team": "db", "env": "staging"}) == ["daytime"]


def test_continue_goes_on_to_later_siblings_until_one_matches_without_it():
    assert policies_for({"store": "深圳宝安店"}) == ["audit", "stores"]
    assert policies_for({"store": "广州天河店"}) == ["audit", "critical"]


def test_nothing_matching_falls_back_to_the_parent_and_a_missing_receiver_is_inherited():
    assert policies_for({"severity": "P2", "team": "web"}) == ["daytime"]
    assert policies_for({"severity": "P1", "kind": "capa"}) == ["critical"]


def test_the_explanation_names_every_route_looked_at_and_the_ones_that_took_the_alert():
    routed = route(parse_tree(TREE), {"store": "深圳宝安店"}, POLICIES).explain()
    assert [v["route"] for v in routed["visited"]] == [
        "root", "root.routes[0]", "root.routes[1]", "root.routes[2]"]
    assert [v["matched"] for v in routed["visited"]] == [True, False, True, True]
    assert [(m["route"], m["policies"]) for m in routed["matched"]] == [
        ("root.routes[1]", ["audit"]), ("root.routes[2]", ["stores"])]


def test_a_disabled_or_since_renamed_policy_takes_nothing_and_says_why():
    tree = {"routes": [{"matchers": ["team=a"], "receiver": "retired"},
                       {"matchers": ["team=b"], "receiver": "gone"}]}
    routed = route(parse_tree(tree), {"team": "a"}, POLICIES)
    assert routed.policies == [] and "disabled" in routed.matched[0]["note"]
    routed = route(parse_tree(tree), {"team": "b"}, POLICIES)
    assert routed.policies == [] and "no policy is named 'gone'" in routed.matched[0]["note"]


@pytest.mark.parametrize("tree, field", [
    ({"matchers": ["team=db"]}, "root.matchers"),
    ({"continue": True}, "root.continue"),
    ({"routes": [{"matchers": ["team==="]}, {"matchers": ['x=~"(a"']}]}, "root.routes[1].matchers[0]"),
    ({"routes": [{"receiver": ""}]}, "root.routes[0].receiver"),
    ({"routes": [{"match": {"a": "b"}}]}, "root.routes[0].match"),
])
def test_a_bad_tree_is_refused_naming_the_route_and_field(tree, field):
    with pytest.raises(Invalid) as refused:
        parse_tree(tree)
    assert refused.value.field == field


def test_receivers_must_name_existing_policies():
    tree = parse_tree({"routes": [{"receiver": "critical"}, {"routes": [{"receiver": "nope"}]}]})
    with pytest.raises(Invalid) as refused:
        check_receivers(tree, [p.name for p in POLICIES])
    assert refused.value.field == "root.routes[1].routes[0].receiver"
    assert "nope" in refused.value.message


def test_a_tree_round_trips_through_its_normalised_form():
    tree = parse_tree(TREE)
    assert parse_tree(tree.spec()) == tree
    assert tree.spec()["routes"][0]["matchers"] == ['team="db"']
