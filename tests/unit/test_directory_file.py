"""`closedloop directory apply`'s plan, without a server: the shipped store network is a valid
organisation whose roles resolve for the demo's stores, a file planned against what it
already made changes nothing, and a change shows as a diff."""
from __future__ import annotations

from pathlib import Path

import pytest

from closedloop.directory import as_file, describe, load, plan_changes
from services.notifier.directory import OrgChart

STORE_NETWORK = Path(__file__).resolve().parents[2] / "examples" / "org" / "store-network.yaml"
EMPTY = {"entity_labels": [], "people": [], "teams": [], "units": []}


def stored(entries: dict) -> dict:
    """What GET /v1/directory would answer once the file's entries are stored."""
    people = [{k: v for k, v in p.items() if k != "left_reason"}
              | {"left_why": p["left_reason"] if p["left"] else None} for p in entries["people"]]
    return {"entity_labels": entries["entity_labels"], "people": people,
            "teams": entries["teams"], "units": entries["units"], "raci": entries["raci"]}


def chart_of(entries: dict) -> OrgChart:
    return OrgChart(people={p["handle"]: {**p, "left_why": p["left_reason"]} for p in entries["people"]},
                    units={u["key"]: u for u in entries["units"]},
                    teams={t["name"]: t for t in entries["teams"]},
                    entity_labels=tuple(entries["entity_labels"]))


def test_the_store_network_is_a_valid_organisation_that_answers_for_the_demo_store():
    entries = load(STORE_NETWORK)
    chart = chart_of(entries)
    for unit in entries["units"]:
        chart.check_unit(unit, unit)
    for team in entries["teams"]:
        chart.check_team(team, team)
    assert chart.resolve("store-042", {"region": "east"}, "店长").handles == ["liu.yang"]
    assert chart.resolve("store-042", {}, "战区负责人").held_at == "east"
    assert chart.resolve("pos-9", {"store": "store-017"}, "运营总监").handles == ["wang.jianguo"]
    assert [u["name"] for u in chart.ancestors("store-017")] == ["华南战区", "总部"]


def test_against_an_empty_organisation_everything_is_created_parents_first():
    plan = plan_changes(load(STORE_NETWORK), EMPTY)
    units = [entry["key"] for kind, entry in plan["create"] if kind == "unit"]
    assert units.index("hq") < units.index("south") < units.index("store-017")
    assert plan["labels"] == ([], ["store", "region"])
    assert "+ person li.na" in describe(plan)


def test_a_file_planned_against_what_it_made_changes_nothing():
    entries = load(STORE_NETWORK)
    plan = plan_changes(entries, stored(entries))
    assert (plan["create"], plan["change"], plan["labels"]) == ([], [], None)
    assert describe(plan).endswith("no changes.")


def test_a_change_is_shown_as_a_diff_and_what_the_file_omits_stays():
    entries = load(STORE_NETWORK)
    current = stored(entries)
    current["units"] = [{**u, "name": "旧名"} if u["key"] == "store-042" else u
                        for u in current["units"]] + [
        {"key": "store-099", "name": "关闭的店", "parent": "east", "roles": {}, "entities": []}]
    text = describe(plan_changes(entries, current))
    assert "~ unit store-042" in text and "-name: 旧名" in text and "+name: 上海徐汇店" in text
    assert "unit store-099 is not in the file and stays as it is" in text


def test_show_prints_what_apply_reads(tmp_path):
    entries = load(STORE_NETWORK)
    current = stored(entries)
    current["people"] = [{**p, "left_at": None} for p in current["people"]]
    shown = tmp_path / "shown.yaml"
    shown.write_text(as_file(current))
    plan = plan_changes(load(shown), current)
    assert (plan["create"], plan["change"], plan["labels"]) == ([], [], None)


def test_the_store_network_carries_the_seeds_raci_matrix_and_applies_it_once():
    entries = load(STORE_NETWORK)
    assert entries["raci"]["matrix"]["P0"] == {
        "responsible": ["运营专家", "店长"], "accountable": ["战区负责人"], "consulted": [],
        "informed": ["运营总监"]}
    plan = plan_changes(entries, EMPTY)
    assert plan["raci"][1] == entries["raci"] and "~ raci rules" in describe(plan)
    again = plan_changes(entries, stored(entries))
    assert again["raci"] is None and describe(again).endswith("no changes.")
    # `show` prints it back in the file's format.
    assert "运营总监" in as_file(stored(entries)).split("raci:")[1]


def test_a_bad_raci_section_is_refused_naming_the_field(tmp_path):
    bad = tmp_path / "org.yaml"
    bad.write_text("raci:\n  matrix:\n    P0: {responsible: [店长]}\n")
    with pytest.raises(SystemExit) as refused:
        load(bad)
    assert "raci.matrix.P0.accountable" in str(refused.value)
