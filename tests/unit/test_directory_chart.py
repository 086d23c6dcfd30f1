"""The organisation's pure questions and rules: an entity finds its unit (listed, else by a
mapped label), a role is found by walking up to the first unit with a holder who has not
left, and a change that would break the tree or name an unknown or departed person is
refused with the field that is wrong."""
from __future__ import annotations

import pytest

from services.notifier.directory import (
    InvalidUnit, OrgChart, PersonLeft, TreeCycle, UnitHasChildren, UnknownParent, UnknownPerson,
)


def unit(key: str, parent: str | None = None, roles: dict | None = None,
         entities: list[str] | None = None) -> dict:
    return {"key": key, "name": key, "parent": parent, "roles": roles or {},
            "entities": entities or []}


def person(handle: str, left: bool = False) -> dict:
    return {"handle": handle, "name": handle, "left": left,
            "left_why": "moved to another company" if left else None}


# 总部 → 华南战区 → 深圳宝安店 (store-017), 华东战区 → 上海徐汇店 (store-042)
CHART = OrgChart(
    people={h: person(h) for h in ("wang.qiang", "zhao.lei", "chen.jing", "li.na", "liu.yang")}
    | {"old.hand": person("old.hand", left=True)},
    units={u["key"]: u for u in [
        unit("hq", roles={"运营总监": ["wang.qiang"]}),
        unit("south", "hq", roles={"战区负责人": ["zhao.lei"], "战区运营": ["old.hand"]}),
        unit("east", "hq", roles={"战区负责人": ["old.hand", "chen.jing"]}),
        unit("store-017", "south", roles={"店长": ["li.na"]}, entities=["store-017"]),
        unit("store-042", "east", roles={"店长": ["liu.yang"]}, entities=["store-042", "pos-42"]),
    ]},
    entity_labels=("store", "region"),
)


def test_an_entity_listed_on_a_unit_belongs_to_it_before_any_label():
    assert CHART.placement("pos-42", {"store": "store-017"})[1] == "entity"
    assert CHART.unit_for("pos-42", {"store": "store-017"})["key"] == "store-042"


def test_otherwise_the_first_mapped_label_naming_a_unit_decides():
    assert CHART.placement("till-9", {"region": "east", "store": "store-017"}) == (
        CHART.units["store-017"], "label store")
    # A label value that is no unit is passed over for the next label.
    assert CHART.unit_for("till-9", {"store": "store-999", "region": "east"})["key"] == "east"
    assert CHART.unit_for("till-9", {"city": "shenzhen"}) is None


def test_ancestors_run_from_the_parent_to_the_root():
    assert [u["key"] for u in CHART.ancestors("store-017")] == ["south", "hq"]
    assert CHART.ancestors("hq") == []


def test_a_role_is_held_by_the_first_unit_up_the_tree_that_has_a_holder():
    store = CHART.role_holders("store-017", "店长")
    assert (store.held_at, store.handles, store.walked) == ("store-017", ["li.na"], ["store-017"])
    region_lead = CHART.resolve("store-017", {}, "战区负责人")
    assert (region_lead.held_at, region_lead.handles) == ("south", ["zhao.lei"])
    assert region_lead.walked == ["store-017", "south"]
    assert CHART.resolve("store-042", {}, "运营总监").handles == ["wang.qiang"]


def test_people_who_left_are_skipped_and_the_walk_goes_on_when_none_remain():
    assert CHART.role_holders("east", "战区负责人").handles == ["chen.jing"]
    # 华南战区's only 战区运营 has left: nobody above holds the role either.
    nobody = CHART.role_holders("store-017", "战区运营")
    assert (nobody.held_at, nobody.handles, nobody.walked) == (None, [], ["store-017", "south", "hq"])


def test_an_entity_with_no_unit_resolves_to_nothing():
    assert CHART.resolve("store-404", {"region": "west"}, "店长") is None


def test_a_parent_must_exist():
    with pytest.raises(UnknownParent) as refused:
        CHART.check_unit(unit("store-1", "north"), None)
    assert refused.value.field == "parent"


def test_a_unit_cannot_become_its_own_ancestor():
    with pytest.raises(TreeCycle) as refused:
        CHART.check_unit(unit("hq", "store-017"), CHART.units["hq"])
    assert refused.value.field == "parent"
    assert "hq → store-017 → south → hq" in refused.value.message
    CHART.check_unit(unit("store-017", "east", entities=["store-017"]), CHART.units["store-017"])


def test_role_holders_must_be_people_and_newcomers_must_not_have_left():
    with pytest.raises(UnknownPerson) as unknown:
        CHART.check_unit(unit("store-9", "south", roles={"店长": ["nobody"]}), None)
    assert unknown.value.field == "roles.店长"
    with pytest.raises(PersonLeft) as left:
        CHART.check_unit(unit("store-9", "south", roles={"店长": ["old.hand"]}), None)
    assert left.value.field == "roles.店长" and "moved to another company" in left.value.message
    # Who held the role before leaving stays in the unit's history.
    CHART.check_unit(unit("south", "hq", roles={"战区运营": ["old.hand", "li.na"]}),
                     CHART.units["south"])


def test_team_members_follow_the_same_rules():
    with pytest.raises(PersonLeft):
        CHART.check_team({"name": "t", "members": ["li.na", "old.hand"]}, None)
    CHART.check_team({"name": "t", "members": ["li.na", "old.hand"]},
                     {"name": "t", "members": ["old.hand"]})
    with pytest.raises(UnknownPerson) as unknown:
        CHART.check_team({"name": "t", "members": ["ghost"]}, None)
    assert unknown.value.field == "members"


def test_an_entity_belongs_to_one_unit():
    with pytest.raises(InvalidUnit) as refused:
        CHART.check_unit(unit("store-9", "south", entities=["store-042"]), None)
    assert refused.value.field == "entities" and "store-042" in refused.value.message


def test_a_unit_with_children_is_not_removed():
    with pytest.raises(UnitHasChildren):
        CHART.check_removal("south")
    CHART.check_removal("store-017")
