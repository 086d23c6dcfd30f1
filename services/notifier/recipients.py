"""Who a ladder step's targets are when it fires: a channel is itself; people are reached
through their contacts' channels. What could not be resolved is said, never dropped
silently: the step's record lists it."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from services.notifier.config_cache import Routing
from services.notifier.directory.chart import OrgChart
from services.notifier.domain import Channel, ChannelNotFound, Delivery, Target, TargetKind
from services.notifier.domain.common import CONTACT_MEDIUM
from services.notifier.oncall.answers import team_on_call
from services.notifier.oncall.model import Answer
from shared.errors import NotFound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    channel: Channel
    target: Target  # the ladder target that led here
    person: dict[str, str] | None = None  # handle, name, language, medium, address

    @property
    def key(self) -> str:
        """What makes one message of a step distinct: the channel, and the person on it."""
        return f"{self.channel.id}/{self.person['handle']}" if self.person else str(self.channel.id)

    def delivery_id(self, incident_id: str, reason: str, occasion: str | None = None) -> UUID:
        return Delivery.create_id(incident_id, reason, str(self.channel.id), self.person,
                                  occasion)

    def told(self) -> dict[str, str]:
        """How the step records it (and the delivery explains itself)."""
        told = {"target": f"{self.target.kind}:{self.target.ref}",
                "channel_id": str(self.channel.id), "channel_name": self.channel.name}
        if self.person:
            told["person"] = self.person["handle"]
        return told


@dataclass(frozen=True)
class Resolution:
    recipients: list[Recipient]
    unresolved: list[str]  # "<kind>:<ref>: why"


class People(Protocol):
    """Where people are found (the notifier application: its organisation and schedules)."""

    def org_chart(self) -> OrgChart: ...

    def who_is_on_call(self, name: str, at: datetime | None = None) -> list[str]: ...

    def explain_on_call(self, name: str, at: datetime | None = None) -> Answer: ...


def resolve(targets: Iterable[Target], incident: dict[str, str], at: datetime,
            routing: Routing, people: People | None = None) -> Resolution:
    recipients: dict[str, Recipient] = {}
    unresolved: list[str] = []
    for target in targets:
        try:
            found = _resolve(target, incident, at, routing, people)
        except LookupError as why:
            unresolved.append(f"{target.kind}:{target.ref}: {why}")
            continue
        for recipient in found:
            recipients.setdefault(recipient.key, recipient)  # told once per step
    if unresolved:
        log.warning("incident %s: targets not resolved: %s", incident.get("ref"),
                    "; ".join(unresolved))
    return Resolution(list(recipients.values()), unresolved)


def _resolve(target: Target, incident: dict[str, str], at: datetime, routing: Routing,
             people: People | None) -> list[Recipient]:
    if target.kind is TargetKind.CHANNEL:
        try:
            return [Recipient(routing.channel(target.ref), target)]
        except ChannelNotFound:
            raise LookupError("the channel no longer exists") from None
    if people is None:
        raise LookupError(f"{target.kind} targets need the organisation")
    chart = people.org_chart()
    handles = _handles(target, incident, at, chart, people)
    found = [r for h in handles for r in contacts_of(h, target, chart, routing)]
    if not found:
        raise LookupError(f"nobody reachable ({', '.join(handles) or 'nobody'} found, "
                          "none with a contact on a registered channel)")
    return found


def _handles(target: Target, incident: dict[str, str], at: datetime, chart: OrgChart,
             people: People) -> list[str]:
    if target.kind is TargetKind.PERSON:
        return [target.ref]
    if target.kind is TargetKind.SCHEDULE:
        try:
            return people.who_is_on_call(target.ref, at)
        except NotFound as missing:
            raise LookupError(str(missing)) from None
    if target.kind is TargetKind.TEAM:  # as GET /v1/teams/{name}/on-call answers
        try:
            found = team_on_call(people, target.ref, at, chart)
        except NotFound as missing:
            raise LookupError(str(missing)) from None
        if found.unresolved and not found.people:
            raise LookupError("; ".join(found.unresolved))
        return found.handles
    holders = chart.resolve(incident.get("entity", ""), None, target.ref)
    if holders is None:
        raise LookupError(f"entity {incident.get('entity')!r} belongs to no unit")
    return holders.handles


def contacts_of(handle: str, target: Target, chart: OrgChart,
                routing: Routing) -> list[Recipient]:
    """A person is reached on every contact whose channel is registered (and not when they
    have left). `target` is what chose them: a ladder target, or any kind/ref pair."""
    person = chart.person(handle)
    if person is None or not chart.is_reachable(handle):
        return []
    found = []
    for contact in person.get("contacts", []):
        channel = routing.channel_named(contact["channel"]) if contact.get("channel") else None
        if channel is None or CONTACT_MEDIUM.get(channel.kind, contact["medium"]) != contact["medium"]:
            continue  # an e-mail address is nothing an SMS channel can send to
        found.append(Recipient(channel, target, {
            "handle": handle, "name": person.get("name", handle),
            "language": person.get("language", "zh"),
            "time_zone": person.get("time_zone", "Asia/Shanghai"), "medium": contact["medium"],
            "address": contact["address"]}))
    return found
