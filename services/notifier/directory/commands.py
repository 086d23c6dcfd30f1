"""The organisation's commands and queries: people join, change and leave; teams and units
are defined, revised and removed; the entity labels are set. Each change is a stored event
with actor and cause, checked against the whole organisation (chart.py) before it is saved."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifier.directory.chart import OrgChart
from services.notifier.domain.common import CONTACT_MEDIUM
from services.notifier.directory.errors import (
    AlreadyDefined, InvalidPerson, NoUnitForEntity, PersonNotFound, TeamNotFound, UnitNotFound,
)
from services.notifier.directory.organisation import ORGANISATION_ID, Organisation
from services.notifier.directory.people import Person
from services.notifier.directory.teams import Team
from services.notifier.directory.units import Unit
from services.notifier.directory.views import (
    holders_view, organisation_view, person_view, team_view, unit_view,
)

# New entries are listed in the one Organisation aggregate, so concurrent creations conflict;
# the loser checks again against the winner's result and saves.
LISTING_RETRIES = 5


class OrganisationCommands:
    """Mixed into NotifierApplication (get_or_none, save, clock, retry_on_conflict, reads,
    org_cache)."""

    # -- people ---------------------------------------------------------------------------
    def add_person(self, *, definition: dict[str, Any], actor: str, cause: dict) -> dict:
        def attempt() -> dict:
            at = self.clock.now()
            person = Person.join(definition=definition, at=at, actor=actor, cause=cause)
            self._check_contact_media(person.contacts)
            if self.get_or_none(person.id) is not None:
                raise AlreadyDefined(f"person {person.handle} already exists; change them "
                                     f"with PATCH /v1/people/{person.handle}")
            self._save_org_entries(person, Organisation.list_person, at, actor, cause)
            return person_view(person)

        return self.retry_on_conflict(attempt, attempts=LISTING_RETRIES)

    def update_person(self, handle: str, *, changes: dict[str, Any], left: bool | None,
                      why: str | None, actor: str, cause: dict) -> dict:
        person = self._org_found(Person.create_id(handle), Person,
                             PersonNotFound(f"person {handle} does not exist"))
        at = self.clock.now()
        person.revise(changes, at, actor, cause)
        if "contacts" in changes:
            self._check_contact_media(person.contacts)
        if left is True:
            person.leave(why or f"marked left by {actor}", at, actor, cause)
        elif left is False:
            person.come_back(at, actor, cause)
        self.save(person)
        return person_view(person)

    def _check_contact_media(self, contacts: list[dict]) -> None:
        """A contact pointing at a channel that sends another medium (an e-mail address on
        an SMS channel) would never be used: refused, naming the contact and the fix."""
        routing, _ = self.config_cache.current()
        for n, contact in enumerate(contacts):
            channel = routing.channel_named(contact.get("channel") or "")
            medium = CONTACT_MEDIUM.get(channel.kind) if channel is not None else None
            if medium is not None and contact["medium"] != medium:
                raise InvalidPerson(f"contacts[{n}].medium", f"channel {channel.name!r} is a "
                                    f"{channel.kind} channel and sends {medium}: give a "
                                    f"{medium} address for it, or point this "
                                    f"{contact['medium']} contact at a channel of its medium")

    # -- teams ----------------------------------------------------------------------------
    def form_team(self, *, definition: dict[str, Any], actor: str, cause: dict) -> dict:
        def attempt() -> dict:
            at, wanted = self.clock.now(), Team.normalised(**definition)
            team = self.get_or_none(Team.create_id(wanted["name"]))
            if isinstance(team, Team) and not team.disbanded:
                raise AlreadyDefined(f"team {wanted['name']} already exists; change it with "
                                     f"PATCH /v1/teams/{wanted['name']}")
            self.org_chart().check_team(wanted, team.definition if team else None)
            if team is None:
                team = Team.form(definition=wanted, at=at, actor=actor, cause=cause)
            else:
                team.revise(wanted, at, actor, cause)  # a disbanded team formed again
            self._save_org_entries(team, Organisation.list_team, at, actor, cause)
            return team_view(team)

        return self.retry_on_conflict(attempt, attempts=LISTING_RETRIES)

    def update_team(self, name: str, *, changes: dict[str, Any], actor: str,
                    cause: dict) -> dict:
        team = self._org_team(name)
        wanted = team.revised(changes)
        self.org_chart().check_team(wanted, team.definition)
        team.revise(wanted, self.clock.now(), actor, cause)
        self.save(team)
        return team_view(team)

    def disband_team(self, name: str, *, why: str | None, actor: str, cause: dict) -> None:
        team = self._org_team(name)
        team.disband(why or f"disbanded by {actor}", self.clock.now(), actor, cause)
        self.save(team)

    # -- units ----------------------------------------------------------------------------
    def define_unit(self, *, definition: dict[str, Any], actor: str, cause: dict) -> dict:
        def attempt() -> dict:
            at, wanted = self.clock.now(), Unit.normalised(**definition)
            unit = self.get_or_none(Unit.create_id(wanted["key"]))
            if isinstance(unit, Unit) and not unit.removed:
                raise AlreadyDefined(f"unit {wanted['key']} already exists; change it with "
                                     f"PATCH /v1/units/{wanted['key']}")
            self.org_chart().check_unit(wanted, unit.definition if unit else None)
            if unit is None:
                unit = Unit.define(definition=wanted, at=at, actor=actor, cause=cause)
            else:
                unit.revise(wanted, at, actor, cause)  # a removed unit defined again
            self._save_org_entries(unit, Organisation.list_unit, at, actor, cause)
            return unit_view(unit)

        return self.retry_on_conflict(attempt, attempts=LISTING_RETRIES)

    def update_unit(self, key: str, *, changes: dict[str, Any], actor: str,
                    cause: dict) -> dict:
        unit = self._org_unit(key)
        wanted = unit.revised(changes)
        self.org_chart().check_unit(wanted, unit.definition)
        unit.revise(wanted, self.clock.now(), actor, cause)
        self.save(unit)
        return unit_view(unit)

    def remove_unit(self, key: str, *, why: str | None, actor: str, cause: dict) -> None:
        unit = self._org_unit(key)
        self.org_chart().check_removal(key)
        unit.remove(why or f"removed by {actor}", self.clock.now(), actor, cause)
        self.save(unit)

    # -- settings -------------------------------------------------------------------------
    def set_entity_labels(self, labels: list[str], *, actor: str, cause: dict) -> dict:
        def attempt() -> dict:
            at = self.clock.now()
            organisation = self._org_listing(at, actor, cause)
            organisation.set_entity_labels(labels, at, actor, cause)
            self.save(organisation)
            return organisation_view(organisation)

        return self.retry_on_conflict(attempt, attempts=LISTING_RETRIES)

    # -- queries --------------------------------------------------------------------------
    def org_chart(self) -> OrgChart:
        """The organisation as it is stored now: from memory, after one query has checked
        that nothing changed (cache.py); in a consumer batch checked once, like the
        configuration (app._deciding). Shared between threads: never change it."""
        batch = self._deciding_batch  # type: ignore[attr-defined]
        if not getattr(batch, "active", False):
            return self.org_cache.current()
        if getattr(batch, "chart", None) is None:
            batch.chart = self.org_cache.current()
        return batch.chart

    def whole_organisation(self) -> dict:
        """Settings and every person, team and unit, read from the store (not the read
        tables): what `closedloop directory apply` compares a file with."""
        organisation = self.get_or_none(ORGANISATION_ID)
        listed = self._org_entries(organisation)
        return {**organisation_view(organisation),
                "people": sorted((person_view(p) for p in listed if isinstance(p, Person)),
                                 key=lambda p: p["handle"]),
                "teams": sorted((team_view(t) for t in listed
                                 if isinstance(t, Team) and not t.disbanded),
                                key=lambda t: t["name"]),
                "units": sorted((unit_view(u) for u in listed
                                 if isinstance(u, Unit) and not u.removed),
                                key=lambda u: u["key"])}

    def person_of(self, handle: str) -> dict:
        return person_view(self._org_found(Person.create_id(handle), Person,
                                       PersonNotFound(f"person {handle} does not exist")))

    def team_of(self, name: str) -> dict:
        return team_view(self._org_team(name))

    def unit_of(self, key: str) -> dict:
        return unit_view(self._org_unit(key))

    def resolve_role(self, entity: str, labels: Mapping[str, str], role: str) -> dict:
        """Who holds `role` relative to the entity, and how the entity's unit was found."""
        chart = self.org_chart()
        placed = chart.placement(entity, labels)
        if placed is None:
            raise NoUnitForEntity(
                f"entity {entity} maps to no unit: list it under a unit's entities, or pass "
                f"a label among [{', '.join(chart.entity_labels)}] whose value is a unit key")
        unit, how = placed
        return {"entity": entity, "matched_by": how,
                **holders_view(chart, chart.role_holders(unit["key"], role))}

    def unit_role(self, key: str, role: str) -> dict:
        self._org_unit(key)
        chart = self.org_chart()
        return holders_view(chart, chart.role_holders(key, role))

    # -- shared steps ---------------------------------------------------------------------
    def _org_listing(self, at: datetime, actor: str, cause: dict) -> Organisation:
        return self.get_or_none(ORGANISATION_ID) or Organisation(at=at, actor=actor, cause=cause)

    def _save_org_entries(self, entry: Any, list_in: Callable[..., None], at: datetime,
                          actor: str, cause: dict) -> None:
        organisation = self._org_listing(at, actor, cause)
        list_in(organisation, entry.id, at, actor, cause)
        self.save(entry, organisation)

    def _org_entries(self, organisation: Organisation | None) -> list[Any]:
        if organisation is None:
            return []
        return list(self.reads.get_many(organisation.listed_ids).values())

    def _org_found(self, aggregate_id: UUID, kind: type, missing: Exception) -> Any:
        found = self.get_or_none(aggregate_id)
        if not isinstance(found, kind):
            raise missing
        return found

    def _org_team(self, name: str) -> Team:
        team = self._org_found(Team.create_id(name), Team,
                               TeamNotFound(f"team {name} does not exist"))
        if team.disbanded:
            raise TeamNotFound(f"team {name} was disbanded ({team.disbanded_why}); form it "
                               "again with POST /v1/teams")
        return team

    def _org_unit(self, key: str) -> Unit:
        unit = self._org_found(Unit.create_id(key), Unit,
                               UnitNotFound(f"unit {key} does not exist"))
        if unit.removed:
            raise UnitNotFound(f"unit {key} was removed ({unit.removed_why}); define it again "
                               "with POST /v1/units")
        return unit
