"""Whether a ladder's targets can reach anyone, checked when a policy is written: each target
must exist (a channel, a person who has not left, a schedule, a team, a role someone holds),
and every step must have at least one target that could be told. What changes later (a shift,
a person leaving) is said by the step when it fires, never refused then. Pure: the caller
passes what the organisation, schedules and channels are now."""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from services.notifier.directory.chart import OrgChart
from services.notifier.domain import InvalidLadder, UnknownChannel


@dataclass(frozen=True)
class Reach:
    chart: OrgChart
    channel_ids: Collection[str]  # registered channels
    channel_names: Collection[str]  # their names, which people's contacts point at
    schedule_exists: Callable[[str], bool]
    people_before: Collection[str] = ()  # people the policy named already (may have left since)
    # Each channel's medium by name: a contact reaches a person on a channel only when it is
    # of that medium (an SMS channel cannot send to an e-mail address).
    channel_media: Mapping[str, str] = field(default_factory=dict)


def check_targets(definition: dict, shorthand: bool, reach: Reach) -> None:
    """Raise an Invalid naming the field as it was written when a target does not exist or a
    step could reach nobody."""
    for n, step in enumerate(definition["steps"]):
        step_field = ("notify", "escalate_to")[n] if shorthand else f"steps[{n}].targets"
        reachable = False
        for i, target in enumerate(step["targets"]):
            field = step_field if shorthand else f"{step_field}[{i}].ref"
            reachable |= _check(target["kind"], str(target["ref"]), field, reach)
        if not reachable:
            raise InvalidLadder(step_field, "nobody on this step can be told: give at least one "
                                "target with a contact on a registered channel")


def _check(kind: str, ref: str, field: str, reach: Reach) -> bool:
    """Whether the target exists (else raise) and could reach someone today."""
    chart = reach.chart
    if kind == "channel":
        if ref not in reach.channel_ids:
            raise UnknownChannel(field, f"channel {ref} does not exist; register it with "
                                 "POST /v1/channels first")
        return True
    if kind == "person":
        chart.check_newcomers(field, [ref], list(reach.people_before))  # exists, not left
        _check_media(chart, ref, field, reach)
        return _contactable(chart, ref, reach)
    if kind == "schedule":
        if not reach.schedule_exists(ref):
            raise InvalidLadder(field, f"schedule {ref!r} does not exist; define it with "
                                "POST /v1/schedules first")
        return True  # who is on call is known when the step fires
    if kind == "team":
        team = chart.teams.get(ref)
        if team is None:
            raise InvalidLadder(field, f"team {ref!r} does not exist; add it to the "
                                "organisation first")
        if team.get("schedule"):
            return True
        return any(_contactable(chart, h, reach) for h in chart.team_members(ref))
    held = [h for unit in chart.units.values() for h in unit["roles"].get(ref, [])
            if chart.is_reachable(h)]
    if not held:
        raise InvalidLadder(field, f"nobody in the organisation holds the role {ref!r}; give "
                            "a unit a holder of it first")
    return True  # whose it is depends on the incident's entity


def _contactable(chart: OrgChart, handle: str, reach: Reach) -> bool:
    person = chart.person(handle) or {}
    return chart.is_reachable(handle) and any(
        c.get("channel") in reach.channel_names and _fits(c, reach)
        for c in person.get("contacts", []))


def _fits(contact: dict, reach: Reach) -> bool:
    medium = reach.channel_media.get(contact.get("channel"))
    return medium is None or contact.get("medium") == medium


def _check_media(chart: OrgChart, handle: str, field: str, reach: Reach) -> None:
    """A person named by a step whose contact points at a channel of another medium (an
    e-mail address on an SMS channel) would be sent nothing there: said now, with the fix."""
    for n, contact in enumerate((chart.person(handle) or {}).get("contacts", [])):
        if contact.get("channel") in reach.channel_names and not _fits(contact, reach):
            medium = reach.channel_media[contact["channel"]]
            raise InvalidLadder(field, f"{handle}'s contacts[{n}] is {contact.get('medium')} "
                                f"{contact.get('address')!r} on channel {contact['channel']!r}, "
                                f"which sends {medium}: give {handle} a {medium} contact there "
                                "or point this contact at a channel of its medium")
