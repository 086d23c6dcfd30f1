"""The organisation the notifier tells: people, teams, a tree of units with role holders,
and how an alert's entity maps to a unit. `OrgChart` answers who holds a role for an entity;
`OrganisationCommands` changes the organisation; `router` serves it under /v1."""
from services.notifier.directory.chart import OrgChart, RoleHolders
from services.notifier.directory.commands import OrganisationCommands
from services.notifier.directory.errors import (
    AlreadyDefined, InvalidOrganisation, InvalidPerson, InvalidTeam, InvalidUnit,
    InvertedHours, NoUnitForEntity, PersonLeft, PersonNotFound, TeamNotFound, TreeCycle,
    UnitHasChildren, UnitNotFound, UnknownParent, UnknownPerson, UnknownTimeZone,
)
from services.notifier.directory.organisation import ORGANISATION_ID, Organisation
from services.notifier.directory.people import Language, Medium, Person, check_time_zone
from services.notifier.directory.teams import Team
from services.notifier.directory.units import Unit

__all__ = [
    "OrgChart", "RoleHolders", "OrganisationCommands", "ORGANISATION_ID", "Organisation",
    "Language", "Medium", "Person", "Team", "Unit", "check_time_zone",
    "AlreadyDefined", "InvalidOrganisation", "InvalidPerson", "InvalidTeam", "InvalidUnit",
    "InvertedHours", "NoUnitForEntity", "PersonLeft", "PersonNotFound", "TeamNotFound",
    "TreeCycle", "UnitHasChildren", "UnitNotFound", "UnknownParent", "UnknownPerson",
    "UnknownTimeZone",
]
