"""The organisation's commands on the in-memory store: every change is a stored event with
actor and cause, definitions are normalised so that re-sending one changes nothing, and bad
input is refused naming the field (time zones, working hours, contacts, handles)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from cryptography.fernet import Fernet

from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.directory import (
    AlreadyDefined, InvalidOrganisation, InvalidPerson, InvertedHours, NoUnitForEntity, Person,
    PersonLeft, TeamNotFound, TreeCycle, Unit, UnitHasChildren, UnknownTimeZone,
)
from services.notifier.sealing import Sealer
from shared.clock import ManualClock

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1", "causation_id": "req-1", "trace": {}}
WHO = {"actor": "Zhang Min", "cause": CAUSE}
LI_NA = {"handle": "li.na", "name": "李娜", "language": "zh", "time_zone": "Asia/Shanghai",
         "working_hours": {"days": ["wed", "mon"], "start": "09:00", "end": "18:00"},
         "contacts": [{"medium": "email", "address": "li.na@example.com"}]}


@pytest.fixture
def app(store_env):
    return NotifierApplication(store_env, ManualClock(T0), sealer=Sealer(Fernet.generate_key().decode()),
                               egress=EgressPolicy())


def test_a_person_joins_with_a_normalised_definition_and_a_recorded_event(app):
    shown = app.add_person(definition=LI_NA, **WHO)
    assert shown["working_hours"]["days"] == ["mon", "wed"]  # week order
    assert shown["contacts"] == [{"medium": "email", "address": "li.na@example.com", "channel": None}]
    [joined] = app.stored_events(Person.create_id("li.na"))
    assert (type(joined).__name__, joined.actor, joined.cause) == ("Joined", "Zhang Min", CAUSE)
    with pytest.raises(AlreadyDefined):
        app.add_person(definition=LI_NA, **WHO)
    # The same definition again changes nothing: no event.
    app.update_person("li.na", changes={"contacts": shown["contacts"]}, left=None, why=None, **WHO)
    assert len(app.stored_events(Person.create_id("li.na"))) == 1


@pytest.mark.parametrize("change, error, field", [
    ({"time_zone": "Mars/Olympus"}, UnknownTimeZone, "time_zone"),
    ({"working_hours": {"days": ["mon"], "start": "18:00", "end": "09:00"}}, InvertedHours,
     "working_hours.end"),
    ({"working_hours": {"days": ["someday"], "start": "09:00", "end": "18:00"}}, InvalidPerson,
     "working_hours.days"),
    ({"contacts": [{"medium": "email", "address": "not-an-address"}]}, InvalidPerson,
     "contacts[0].address"),
    ({"contacts": [{"medium": "pigeon", "address": "roof"}]}, InvalidPerson, "contacts[0].medium"),
    ({"handle": "Li Na"}, InvalidPerson, "handle"),
    ({"language": "fr"}, InvalidPerson, "language"),
])
def test_bad_people_are_refused_naming_the_field(app, change, error, field):
    with pytest.raises(error) as refused:
        app.add_person(definition={**LI_NA, **change}, **WHO)
    assert refused.value.field == field


def test_a_person_who_left_is_kept_but_refused_as_a_new_holder(app):
    app.add_person(definition=LI_NA, **WHO)
    app.add_person(definition={"handle": "zhao.lei", "name": "赵磊"}, **WHO)
    app.define_unit(definition={"key": "hq", "name": "总部", "roles": {"运营总监": ["zhao.lei"]}},
                    **WHO)
    left = app.update_person("zhao.lei", changes={}, left=True, why="moved on", **WHO)
    assert (left["left"], left["left_why"]) == (True, "moved on")
    with pytest.raises(PersonLeft) as refused:
        app.define_unit(definition={"key": "south", "name": "华南战区", "parent": "hq",
                                    "roles": {"战区负责人": ["zhao.lei"]}}, **WHO)
    assert refused.value.field == "roles.战区负责人"
    # Still named where he was; renaming the unit keeps him there.
    assert app.update_unit("hq", changes={"name": "集团总部"}, **WHO)["roles"] == {
        "运营总监": ["zhao.lei"]}
    assert app.unit_role("hq", "运营总监")["holders"] == []
    app.update_person("zhao.lei", changes={}, left=False, why=None, **WHO)
    assert [h["handle"] for h in app.unit_role("hq", "运营总监")["holders"]] == ["zhao.lei"]


def test_the_tree_refuses_cycles_and_removal_of_a_unit_with_children(app):
    app.define_unit(definition={"key": "hq", "name": "总部"}, **WHO)
    app.define_unit(definition={"key": "south", "name": "华南战区", "parent": "hq"}, **WHO)
    with pytest.raises(TreeCycle):
        app.update_unit("hq", changes={"parent": "south"}, **WHO)
    with pytest.raises(UnitHasChildren):
        app.remove_unit("hq", why=None, **WHO)
    app.remove_unit("south", why="merged", **WHO)
    assert [u["key"] for u in app.whole_organisation()["units"]] == ["hq"]
    # Defined again: the same aggregate comes back, its history intact.
    app.define_unit(definition={"key": "south", "name": "华南战区", "parent": "hq"}, **WHO)
    assert [type(e).__name__ for e in app.stored_events(Unit.create_id("south"))] == [
        "Defined", "Removed", "Restored"]


def test_a_role_is_resolved_for_an_entity_through_labels(app):
    app.add_person(definition=LI_NA, **WHO)
    app.define_unit(definition={"key": "hq", "name": "总部", "roles": {"运营总监": ["li.na"]}},
                    **WHO)
    app.define_unit(definition={"key": "store-042", "name": "上海徐汇店", "parent": "hq"}, **WHO)
    with pytest.raises(NoUnitForEntity):
        app.resolve_role("till-1", {"store": "store-042"}, "运营总监")
    app.set_entity_labels(["store", "region"], **WHO)
    found = app.resolve_role("till-1", {"store": "store-042"}, "运营总监")
    assert (found["matched_by"], found["unit"], found["held_at"]) == ("label store", "store-042", "hq")
    assert found["holders"][0]["name"] == "李娜"
    with pytest.raises(InvalidOrganisation):
        app.set_entity_labels(["store", "store"], **WHO)


def test_teams_are_formed_changed_and_disbanded(app):
    app.add_person(definition=LI_NA, **WHO)
    team = app.form_team(definition={"name": "华南运营", "members": ["li.na"]}, **WHO)
    assert team["schedule"] is None
    assert app.update_team("华南运营", changes={"schedule": "华南值班"}, **WHO)["schedule"] == "华南值班"
    app.disband_team("华南运营", why=None, **WHO)
    with pytest.raises(TeamNotFound):
        app.team_of("华南运营")
    assert app.whole_organisation()["teams"] == []
