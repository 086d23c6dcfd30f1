"""Who a ladder step's targets are when it fires: a channel is itself; people are reached
through their contacts' channels. What could not be resolved is said, never dropped
silently: the step's record lists it."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from services.notifier.config_cache import Routing
from services.notifier.domain import Channel, ChannelNotFound, Delivery, Target, TargetKind

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

    def delivery_id(self, incident_id: str, reason: str) -> UUID:
        return Delivery.create_id(incident_id, reason, str(self.channel.id), self.person)

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


def resolve(targets: Iterable[Target], incident: dict[str, str], at: datetime,
            routing: Routing) -> Resolution:
    recipients: dict[str, Recipient] = {}
    unresolved: list[str] = []
    for target in targets:
        try:
            found = _resolve(target, incident, at, routing)
        except LookupError as why:
            unresolved.append(f"{target.kind}:{target.ref}: {why}")
            continue
        for recipient in found:
            recipients.setdefault(recipient.key, recipient)  # told once per step
    if unresolved:
        log.warning("incident %s: targets not resolved: %s", incident.get("ref"),
                    "; ".join(unresolved))
    return Resolution(list(recipients.values()), unresolved)


def _resolve(target: Target, incident: dict[str, str], at: datetime,
             routing: Routing) -> list[Recipient]:
    if target.kind is TargetKind.CHANNEL:
        try:
            return [Recipient(routing.channel(target.ref), target)]
        except ChannelNotFound:
            raise LookupError("the channel no longer exists") from None
    raise LookupError(f"{target.kind} targets are not resolvable here")
