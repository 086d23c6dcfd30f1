"""The organisation on the running notifier, over real NATS and PostgreSQL: people, units and
teams are created over the API and listed from the read tables, a role is resolved for an
alert's entity, bad input is refused naming the field, and `closedloop directory apply` of
the shipped store network is idempotent (the second apply finds nothing to change)."""
from __future__ import annotations

from pathlib import Path

import pytest

from closedloop.cli import main as closedloop
from services.notifier.main import create_app
from services.notifier.settings import NotifierSettings
from shared.clock import ManualClock
from tests.harness import (
    ADMIN_KEY, API_KEYS, MANAGER_KEY, NOTIFIER_SAFETY, RESPONDER_KEY, VIEWER_KEY,
    RunningService, wait_until,
)

pytestmark = pytest.mark.integration

STORE_NETWORK = Path(__file__).resolve().parents[2] / "examples" / "org" / "store-network.yaml"


@pytest.fixture
def notifier(database_url, nats_url):
    service = RunningService(create_app(NotifierSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS, **NOTIFIER_SAFETY),
        clock=ManualClock())).start()
    yield service
    service.stop()


def refused(response, field: str) -> str:
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == field, error
    return error["message"]


def test_people_and_units_are_created_listed_and_resolved_for_an_entity(notifier):
    with notifier.client(MANAGER_KEY) as manager, notifier.client(VIEWER_KEY) as viewer:
        for handle, name in (("li.na", "李娜"), ("zhao.lei", "赵磊"), ("ma.chao", "马超")):
            created = manager.post("/v1/people", json={
                "handle": handle, "name": name, "time_zone": "Asia/Shanghai",
                "working_hours": {"days": ["mon", "tue"], "start": "09:00", "end": "18:00"},
                "contacts": [{"medium": "sms", "address": "+86 138 0000 0001"}]})
            assert created.status_code == 201, created.text
        assert manager.post("/v1/units", json={"key": "hq", "name": "总部"}).status_code == 201
        assert manager.post("/v1/units", json={
            "key": "south", "name": "华南战区", "parent": "hq",
            "roles": {"战区负责人": ["zhao.lei"]}}).status_code == 201
        assert manager.post("/v1/units", json={
            "key": "store-017", "name": "深圳宝安店", "parent": "south",
            "roles": {"店长": ["li.na"]}, "entities": ["store-017"]}).status_code == 201
        assert manager.put("/v1/organisation", json={"entity_labels": ["store", "region"]}
                           ).status_code == 200
        # Viewers read; they do not change.
        assert viewer.post("/v1/units", json={"key": "x", "name": "x"}).status_code == 403

        lead = viewer.get("/v1/directory/resolve", params={"entity": "store-017", "role": "战区负责人"})
        assert lead.status_code == 200, lead.text
        assert (lead.json()["matched_by"], lead.json()["held_at"]) == ("entity", "south")
        assert [h["handle"] for h in lead.json()["holders"]] == ["zhao.lei"]
        by_label = viewer.get("/v1/directory/resolve", params={
            "entity": "till-3", "role": "店长", "label.store": "store-017"}).json()
        assert (by_label["matched_by"], by_label["holders"][0]["name"]) == ("label store", "李娜")
        nowhere = viewer.get("/v1/directory/resolve", params={"entity": "store-404", "role": "店长"})
        assert nowhere.status_code == 404 and "maps to no unit" in nowhere.text
        assert viewer.get("/v1/units/store-017/roles/战区负责人").json()["held_at"] == "south"

        people = wait_until(lambda: (page := viewer.get("/v1/people", params={"limit": 2}).json())
                            ["total"] == 3 and page, message="the people's read table")
        assert [p["handle"] for p in people["items"]] == ["li.na", "ma.chao"]
        assert people["items"][0]["working_hours"]["days"] == ["mon", "tue"]
        units = wait_until(lambda: (page := viewer.get("/v1/units", params={"parent": "hq"}).json())
                           ["total"] == 1 and page, message="the units' read table")
        assert units["items"][0]["roles"] == {"战区负责人": ["zhao.lei"]}

        # ma.chao leaves: kept, listed as left, refused as a new 店长.
        left = manager.patch("/v1/people/ma.chao", json={"left": True, "left_reason": "调岗"})
        assert left.json()["left"] is True
        wait_until(lambda: viewer.get("/v1/people", params={"left": True}).json()["total"] == 1,
                   message="the person who left, listed as left")
        message = refused(manager.patch("/v1/units/store-017", json={
            "roles": {"店长": ["li.na", "ma.chao"]}}), "roles.店长")
        assert "ma.chao has left (调岗)" in message


def test_bad_input_is_refused_naming_the_field_and_the_fix(notifier):
    with notifier.client(MANAGER_KEY) as manager:
        person = {"handle": "li.na", "name": "李娜"}
        assert "IANA" in refused(manager.post("/v1/people", json={
            **person, "time_zone": "Asia/Gotham"}), "time_zone")
        refused(manager.post("/v1/people", json={**person, "working_hours": {
            "days": ["mon"], "start": "18:00", "end": "09:00"}}), "working_hours.end")
        assert manager.post("/v1/people", json=person).status_code == 201
        assert manager.post("/v1/people", json=person).status_code == 409
        assert "add them under people" in refused(manager.post("/v1/units", json={
            "key": "hq", "name": "总部", "roles": {"运营总监": ["nobody"]}}), "roles.运营总监")
        refused(manager.post("/v1/units", json={"key": "south", "name": "华南战区",
                                                 "parent": "hq"}), "parent")
        assert manager.post("/v1/units", json={"key": "hq", "name": "总部"}).status_code == 201
        assert manager.post("/v1/units", json={"key": "south", "name": "华南战区",
                                               "parent": "hq"}).status_code == 201
        assert "own ancestor" in refused(manager.patch("/v1/units/hq", json={"parent": "south"}),
                                         "parent")
        refused(manager.post("/v1/teams", json={"name": "华南运营", "members": ["ghost"]}),
                "members")
        assert manager.delete("/v1/units/hq").status_code == 409  # south sits under it
        assert manager.get("/v1/people/nobody").status_code == 404


def apply(notifier, path: Path, capsys) -> str:
    code = closedloop(["directory", "apply", str(path), "--yes", "--url", notifier.url,
                       "--api-key", ADMIN_KEY])
    assert code == 0
    return capsys.readouterr().out


def test_applying_the_store_network_twice_changes_nothing_the_second_time(
        notifier, capsys, tmp_path):
    first = apply(notifier, STORE_NETWORK, capsys)
    assert "+ unit store-042" in first and "+ person li.na" in first and "applied." in first
    assert "~ raci rules" in first
    second = apply(notifier, STORE_NETWORK, capsys)
    assert "no changes." in second and "+ " not in second and "~ " not in second

    with notifier.client(RESPONDER_KEY) as responder:
        # The demo's store, by entity: its region's lead, and the 店长 of the store itself.
        lead = responder.get("/v1/directory/resolve", params={
            "entity": "store-042", "role": "战区负责人", "label.region": "east"}).json()
        assert [h["name"] for h in lead["holders"]] == ["陈静"]
        boss = responder.get("/v1/directory/resolve", params={
            "entity": "store-017", "role": "运营总监"}).json()
        assert (boss["held_at"], boss["walked"]) == ("hq", ["store-017", "south", "hq"])
        assert responder.get("/v1/people/ma.chao").json()["left"] is True
        raci = responder.get("/v1/raci").json()
        assert raci["matrix"]["P2"]["consulted"] == ["运营专家"]
        assert raci["deadlines"]["stages"]["P0"]["verifying"] == 259200

    # `show` prints the file format: applying its output changes nothing either.
    assert closedloop(["directory", "show", "--url", notifier.url, "--api-key", ADMIN_KEY]) == 0
    shown = tmp_path / "shown.yaml"
    shown.write_text(capsys.readouterr().out)
    assert "no changes." in apply(notifier, shown, capsys)

    # A changed file shows its diff and applies only the change.
    edited = tmp_path / "edited.yaml"
    edited.write_text(STORE_NETWORK.read_text().replace("name: 上海徐汇店", "name: 上海徐汇旗舰店"))
    dry = closedloop(["directory", "apply", str(edited), "--dry-run", "--url", notifier.url,
                      "--api-key", ADMIN_KEY])
    out = capsys.readouterr().out
    assert dry == 0 and "~ unit store-042" in out and "+name: 上海徐汇旗舰店" in out
    assert "applied." not in out
    assert "~ unit store-042" in apply(notifier, edited, capsys)
    assert "no changes." in apply(notifier, edited, capsys)
