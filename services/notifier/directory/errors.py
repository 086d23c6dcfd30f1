"""What the organisation refuses, each naming the field and the fix (HTTP 422), and what is
not there (HTTP 404) or already is (HTTP 409)."""
from __future__ import annotations

from shared.errors import DomainError, Invalid, NotFound


class InvalidPerson(Invalid):
    """A person's definition breaks a rule (handle, name, contacts, language)."""


class InvalidTeam(Invalid):
    """A team's definition breaks a rule."""


class InvalidUnit(Invalid):
    """A unit's definition breaks a rule (key, roles, entities)."""


class InvalidOrganisation(Invalid):
    """The organisation's settings break a rule (entity labels)."""


class UnknownTimeZone(Invalid):
    """The time zone is not in the IANA database (zoneinfo)."""


class InvertedHours(Invalid):
    """Working hours end before (or when) they start."""


class UnknownParent(Invalid):
    """A unit names a parent unit that does not exist."""


class TreeCycle(Invalid):
    """A unit would become its own ancestor."""


class UnknownPerson(Invalid):
    """A role holder or team member is not a person of the organisation."""


class PersonLeft(Invalid):
    """A person who left is refused as a new role holder or team member."""


class PersonNotFound(NotFound):
    pass


class TeamNotFound(NotFound):
    pass


class UnitNotFound(NotFound):
    pass


class NoUnitForEntity(NotFound):
    """An entity that neither a unit's entities nor a mapped label lead to."""


class AlreadyDefined(DomainError):
    """Handles, team names and unit keys are unique: their ids derive from them (HTTP 409)."""


class UnitHasChildren(DomainError):
    """A unit with child units cannot be removed: the children would lose their place."""
