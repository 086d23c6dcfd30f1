"""What the API shows of people, teams, units and the organisation (read from the store),
and the chart built from them."""
from __future__ import annotations

from typing import Any

from services.notifier.directory.chart import OrgChart, RoleHolders
from services.notifier.directory.organisation import Organisation
from services.notifier.directory.people import Person
from services.notifier.directory.teams import Team
from services.notifier.directory.units import Unit


def person_view(person: Person) -> dict[str, Any]:
    return {"id": person.id, **person.definition, "left": person.left,
            "left_at": person.left_at, "left_why": person.left_why,
            "created_at": person.joined_at, "updated_at": person.updated_at}


def team_view(team: Team) -> dict[str, Any]:
    return {"id": team.id, **team.definition, "created_at": team.formed_at,
            "updated_at": team.updated_at}


def unit_view(unit: Unit) -> dict[str, Any]:
    return {"id": unit.id, **unit.definition, "created_at": unit.defined_at,
            "updated_at": unit.updated_at}


def organisation_view(organisation: Organisation | None) -> dict[str, Any]:
    if organisation is None:
        return {"entity_labels": [], "updated_at": None}
    return {"entity_labels": list(organisation.entity_labels),
            "updated_at": organisation.updated_at}


def chart_of(organisation: Organisation | None, listed: list[Any]) -> OrgChart:
    """The chart of the organisation's current people, teams and units."""
    people = {p.handle: {**p.definition, "left": p.left, "left_why": p.left_why}
              for p in listed if isinstance(p, Person)}
    units = {u.key: u.definition for u in listed if isinstance(u, Unit) and not u.removed}
    teams = {t.name: t.definition for t in listed if isinstance(t, Team) and not t.disbanded}
    labels = tuple(organisation.entity_labels) if organisation is not None else ()
    return OrgChart(people, units, teams, labels)


def holders_view(chart: OrgChart, found: RoleHolders) -> dict[str, Any]:
    unit = chart.units.get(found.unit)
    return {"role": found.role, "unit": found.unit, "unit_name": unit["name"] if unit else None,
            "held_at": found.held_at, "walked": found.walked,
            "holders": [chart.people[h] for h in found.handles]}
