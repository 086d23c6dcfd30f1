"""Who is on call for a team and for a unit, on the running notifier (real NATS and
PostgreSQL, a ManualClock): 华南运营 rotates daily through its schedule 华南值班, 华东运营 has
no schedule; 华南战区's answer is its role holders plus 华南运营's on-call person; a ladder
step naming the team tells whom the team's answer names."""
from __future__ import annotations

import pytest

from tests.harness import MANAGER_KEY, VIEWER_KEY, wait_until
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    SECRET, WAIT, clock, deliveries, incident_opened, notifier, publish,
)

pytestmark = pytest.mark.integration

PEOPLE = (("zhao.lei", "赵磊"), ("sun.li", "孙丽"), ("zhou.min", "周敏"), ("li.na", "李娜"),
          ("wu.hao", "吴昊"), ("xu.fang", "徐芳"))
# ManualClock's now is Monday 2 November 2026 09:00 UTC (17:00 in Shanghai): turn 1.
SCHEDULE = {"name": "华南值班", "time_zone": "Asia/Shanghai", "layers": [
    {"name": "daily", "rotation": "daily", "handoff_time": "09:00", "start": "2026-11-01T09:00",
     "members": ["sun.li", "zhou.min"]}]}


def organisation(client) -> None:
    assert client.post("/v1/channels", json={"name": "im-gateway", "url": "https://im.example.com/hook",
                                             "secret": SECRET}).status_code == 201
    for handle, name in PEOPLE:
        created = client.post("/v1/people", json={
            "handle": handle, "name": name, "time_zone": "Asia/Shanghai",
            "contacts": [{"medium": "chat", "address": f"@{handle}", "channel": "im-gateway"}]})
        assert created.status_code == 201, created.text
    assert client.post("/v1/schedules", json=SCHEDULE).status_code == 201
    for unit in ({"key": "hq", "name": "总部"},
                 {"key": "south", "name": "华南战区", "parent": "hq",
                  "roles": {"战区负责人": ["zhao.lei"], "战区运营": ["sun.li"]}},
                 {"key": "store-017", "name": "深圳宝安店", "parent": "south",
                  "roles": {"店长": ["li.na"]}, "entities": ["store-017"]}):
        assert client.post("/v1/units", json=unit).status_code == 201
    for team in ({"name": "华南运营", "members": ["sun.li", "zhou.min"], "schedule": "华南值班"},
                 {"name": "华东运营", "members": ["wu.hao", "xu.fang"]}):
        assert client.post("/v1/teams", json=team).status_code == 201


def who(answer: dict) -> list[tuple[str, list[str]]]:
    return [(p["handle"], [r["via"] for r in p["reasons"]]) for p in answer["on_call"]]


def test_who_is_on_call_for_a_team_and_for_a_unit(notifier):
    with notifier.client(MANAGER_KEY) as manager:
        organisation(manager)
    with notifier.client(VIEWER_KEY) as viewer:
        now = viewer.get("/v1/teams/华南运营/on-call")  # the clock's now
        assert now.status_code == 200, now.text
        assert now.json()["schedule"] == "华南值班"
        assert who(now.json()) == [("zhou.min", ["team:华南运营"])]
        reason = now.json()["on_call"][0]["reasons"][0]
        assert reason["why"] == "schedule 华南值班, layer daily"
        assert (reason["since"], reason["until"]) == ("2026-11-02T01:00:00Z", "2026-11-03T01:00:00Z")

        tomorrow = viewer.get("/v1/teams/华南运营/on-call", params={"at": "2026-11-03T03:00:00Z"})
        assert who(tomorrow.json()) == [("sun.li", ["team:华南运营"])]

        members = viewer.get("/v1/teams/华东运营/on-call").json()
        assert members["schedule"] is None
        assert [(p["handle"], p["reasons"][0]["why"]) for p in members["on_call"]] == [
            ("wu.hao", "member (the team has no schedule)"),
            ("xu.fang", "member (the team has no schedule)")]

        # 华南战区: its own holders, and 华南运营 (sun.li holds 战区运营 there) on call.
        south = viewer.get("/v1/units/south/on-call", params={"at": "2026-11-03T03:00:00Z"})
        assert south.status_code == 200, south.text
        assert south.json()["teams"] == ["华南运营"]
        assert who(south.json()) == [("zhao.lei", ["role:战区负责人"]),
                                     ("sun.li", ["role:战区运营", "team:华南运营"])]
        south_now = viewer.get("/v1/units/south/on-call").json()
        assert who(south_now) == [("zhao.lei", ["role:战区负责人"]), ("sun.li", ["role:战区运营"]),
                                  ("zhou.min", ["team:华南运营"])]
        store = viewer.get("/v1/units/store-017/on-call").json()
        assert (store["name"], store["teams"], who(store)) == (
            "深圳宝安店", [], [("li.na", ["role:店长"])])

        # Refusals name what is wrong.
        team = viewer.get("/v1/teams/nobody/on-call")
        assert team.status_code == 404 and team.json()["errors"][0]["field"] == "name"
        unit = viewer.get("/v1/units/nowhere/on-call")
        assert unit.status_code == 404 and unit.json()["errors"][0]["field"] == "key"
        garbled = viewer.get("/v1/units/south/on-call", params={"at": "yesterday"})
        assert garbled.status_code == 422 and garbled.json()["errors"][0]["field"].endswith("at")
        naive = viewer.get("/v1/teams/华南运营/on-call", params={"at": "2026-11-03T03:00:00"})
        assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "at"

    # People who left are on call for nobody.
    with notifier.client(MANAGER_KEY) as manager:
        assert manager.patch("/v1/people/xu.fang", json={"left": True}).status_code == 200
    with notifier.client(VIEWER_KEY) as viewer:
        assert who(viewer.get("/v1/teams/华东运营/on-call").json()) == [("wu.hao", ["team:华东运营"])]


def test_a_ladder_step_naming_a_team_tells_whom_the_team_answer_names(notifier, nats_url, clock):
    with notifier.client(MANAGER_KEY) as manager:
        organisation(manager)
        policy = manager.post("/v1/policies", json={"name": "south-ops", "severities": ["P0"],
                                                    "steps": [{"targets": [
                                                        {"kind": "team", "ref": "华南运营"}], "delay_seconds": 900}]})
        assert policy.status_code == 201, policy.text
    with notifier.client(VIEWER_KEY) as viewer:
        named = [p["handle"] for p in viewer.get("/v1/teams/华南运营/on-call").json()["on_call"]]
    incident = incident_opened(clock)
    publish(nats_url, incident)
    told = wait_until(lambda: deliveries(notifier, incident.incident_id), WAIT, "step 0")
    assert [(d["person"], d["target"]) for d in told] == [(h, "team:华南运营") for h in named]
    assert named == ["zhou.min"]
