"""Who is on call at an instant for a team and for a unit of the organisation, and why.

A team with a schedule means whoever its schedule puts on call (an override may put a
stand-in from outside the team: the schedule decides); a team without one means its members.
A unit means its own role holders, plus the on-call people of the teams attached to it: a
team is attached to every unit where one of its members holds a role (docs/adr/unit-on-call.md).
People who left are never on call. Escalation steps (recipients.py) and the API ask the same
functions, so a team target tells exactly who `GET /v1/teams/{name}/on-call` names."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.notifier.directory.chart import OrgChart
from services.notifier.directory.errors import TeamNotFound, UnitNotFound
from services.notifier.oncall.definition import check_instant
from services.notifier.oncall.model import Answer
from shared.errors import NotFound


class Schedules(Protocol):
    """Where the organisation and the schedules are read (the notifier application)."""

    def org_chart(self) -> OrgChart: ...

    def explain_on_call(self, name: str, at: datetime | None = None) -> Answer: ...


@dataclass(frozen=True)
class Reason:
    via: str                      # "team:华南运营", "role:店长", "schedule:华南值班"
    why: str                      # "layer primary", "member (the team has no schedule)", …
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class OnCallAnswer:
    """Who, each with every reason they are on call (first reason first), and what could not
    be answered ("schedule 华南值班 does not exist")."""

    at: datetime
    people: dict[str, list[Reason]] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)

    @property
    def handles(self) -> list[str]:
        return list(self.people)

    def add(self, handle: str, reason: Reason) -> None:
        self.people.setdefault(handle, []).append(reason)

    def merge(self, other: "OnCallAnswer") -> None:
        for handle, reasons in other.people.items():
            for reason in reasons:
                self.add(handle, reason)
        self.unresolved += other.unresolved


def team_on_call(schedules: Schedules, name: str, at: datetime,
                 chart: OrgChart | None = None) -> OnCallAnswer:
    check_instant(at)
    chart = chart or schedules.org_chart()
    team = chart.teams.get(name)
    if team is None:
        raise TeamNotFound(f"team {name} does not exist (or was disbanded)", field="name")
    answer, via = OnCallAnswer(at), f"team:{name}"
    if not team.get("schedule"):
        for handle in chart.team_members(name):
            answer.add(handle, Reason(via, "member (the team has no schedule)"))
        return answer
    try:
        found = schedules.explain_on_call(team["schedule"], at)
    except NotFound as missing:
        answer.unresolved.append(f"{via}: {missing}")
        return answer
    for person in found.on_call:
        if chart.is_reachable(person.handle):
            answer.add(person.handle, Reason(
                via, f"schedule {team['schedule']}, {person.source.describe()}",
                person.since, person.until))
    return answer


def teams_attached(chart: OrgChart, key: str) -> list[str]:
    """The teams one of whose members holds a role in the unit itself (someone who left
    links nothing)."""
    holders = {h for hs in chart.units[key]["roles"].values() for h in hs
               if chart.is_reachable(h)}
    return sorted(name for name, team in chart.teams.items()
                  if holders.intersection(team["members"]))


def unit_on_call(schedules: Schedules, key: str, at: datetime,
                 chart: OrgChart | None = None) -> OnCallAnswer:
    check_instant(at)
    chart = chart or schedules.org_chart()
    unit = chart.units.get(key)
    if unit is None:
        raise UnitNotFound(f"unit {key} does not exist (or was removed)", field="key")
    answer = OnCallAnswer(at)
    for role, holders in unit["roles"].items():
        for handle in holders:
            if chart.is_reachable(handle):
                answer.add(handle, Reason(f"role:{role}", f"holds {role} at {unit['name']}"))
    for name in teams_attached(chart, key):
        answer.merge(team_on_call(schedules, name, at, chart))
    return answer


def answer_view(answer: OnCallAnswer, chart: OrgChart) -> list[dict]:
    return [{"handle": handle, "name": (chart.person(handle) or {}).get("name", handle),
             "reasons": [{"via": r.via, "why": r.why, "since": r.since, "until": r.until}
                         for r in reasons]}
            for handle, reasons in answer.people.items()]
