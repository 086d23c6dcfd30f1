"""Team and unit on-call answers over a plain organisation chart and a stand-in for the
schedules: who, with every reason; people who left are on call for nobody; a team whose
schedule is gone answers nobody and says why; teams attach to the units where a member holds
a role."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.notifier.directory.chart import OrgChart
from services.notifier.directory.errors import TeamNotFound, UnitNotFound
from services.notifier.oncall.aggregate import ScheduleNotFound
from services.notifier.oncall.answers import team_on_call, teams_attached, unit_on_call
from services.notifier.oncall.model import Answer, InvalidSchedule, OnCall, Source

AT = datetime(2026, 11, 2, 9, tzinfo=timezone.utc)
CHART = OrgChart(
    people={h: {"handle": h, "name": h, "left": h == "ma.chao"}
            for h in ("zhao.lei", "sun.li", "zhou.min", "li.na", "ma.chao", "wu.hao")},
    units={"south": {"key": "south", "name": "华南战区", "parent": None, "entities": [],
                     "roles": {"战区负责人": ["zhao.lei", "ma.chao"], "战区运营": ["sun.li"]}},
           "store-017": {"key": "store-017", "name": "深圳宝安店", "parent": "south",
                         "entities": ["store-017"], "roles": {"店长": ["li.na"]}}},
    teams={"华南运营": {"name": "华南运营", "members": ["sun.li", "zhou.min"], "schedule": "华南值班"},
           "巡店": {"name": "巡店", "members": ["li.na", "ma.chao"], "schedule": None},
           "华东运营": {"name": "华东运营", "members": ["wu.hao"], "schedule": "gone"}})


class Schedules:
    def org_chart(self) -> OrgChart:
        return CHART

    def explain_on_call(self, name: str, at: datetime | None = None) -> Answer:
        if name != "华南值班":
            raise ScheduleNotFound(f"schedule {name!r} does not exist")
        return Answer(at, [OnCall("zhou.min", Source("layer", "daily"), AT, AT),
                           OnCall("ma.chao", Source("layer", "daily"), AT, AT)], [])


def test_a_team_on_a_schedule_is_whom_the_schedule_names_minus_who_left():
    answer = team_on_call(Schedules(), "华南运营", AT)
    assert answer.handles == ["zhou.min"]
    assert answer.people["zhou.min"][0].why == "schedule 华南值班, layer daily"


def test_a_team_without_a_schedule_is_its_members_and_one_whose_schedule_is_gone_nobody():
    assert team_on_call(Schedules(), "巡店", AT).handles == ["li.na"]
    gone = team_on_call(Schedules(), "华东运营", AT)
    assert gone.handles == [] and "does not exist" in gone.unresolved[0]


def test_a_unit_is_its_holders_and_the_teams_attached_by_their_members_roles():
    assert teams_attached(CHART, "south") == ["华南运营"]
    assert teams_attached(CHART, "store-017") == ["巡店"]
    answer = unit_on_call(Schedules(), "south", AT)
    assert {h: [r.via for r in rs] for h, rs in answer.people.items()} == {
        "zhao.lei": ["role:战区负责人"], "sun.li": ["role:战区运营"], "zhou.min": ["team:华南运营"]}
    store = unit_on_call(Schedules(), "store-017", AT)
    assert {h: [r.via for r in rs] for h, rs in store.people.items()} == {
        "li.na": ["role:店长", "team:巡店"]}


def test_unknown_names_and_instants_without_an_offset_are_refused_naming_the_field():
    with pytest.raises(TeamNotFound) as team:
        team_on_call(Schedules(), "nobody", AT)
    with pytest.raises(UnitNotFound) as unit:
        unit_on_call(Schedules(), "nowhere", AT)
    with pytest.raises(InvalidSchedule) as naive:
        unit_on_call(Schedules(), "south", AT.replace(tzinfo=None))
    assert (team.value.field, unit.value.field, naive.value.field) == ("name", "key", "at")
