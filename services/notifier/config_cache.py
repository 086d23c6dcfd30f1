"""The configuration (the directory, its channels and policies) kept in memory and checked
against the store before each decision: one query asks for the latest version of every
configuration aggregate, and only those that changed are read again. A change saved by any
replica is so seen by the next decision, and a channel's secrets are opened once per change
instead of once per send."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifier.channels.base import Target
from services.notifier.domain import (
    DIRECTORY_ID, Channel, ChannelNotFound, Directory, EscalationPolicy,
)
from services.notifier.raci.rules import RACI_RULES_ID, RaciRules
from services.notifier.sealing import Sealer, SealingError
from services.notifier.store_reads import StoreReads

# Rounds of "check, reload" before a decision goes ahead with what it has (a configuration
# that changes under every check is being edited by a script; the next decision sees it).
MAX_ROUNDS = 3


@dataclass(frozen=True)
class Opened:
    """A channel's secrets in clear, for one version of the channel and one sealer."""

    version: int
    sealer: Sealer
    secret: str | SealingError
    headers: dict[str, str] | SealingError
    previous_secret: str | SealingError | None
    url: str | SealingError = ""  # sealed for every kind but webhook (its tokens)


@dataclass
class Routing:
    """The configuration at known versions. Its aggregates are shared between threads and
    must never be changed: commands read their own copies from the store."""

    directory: Directory | None = None
    aggregates: dict[UUID, Any] = field(default_factory=dict)
    _opened: dict[UUID, Opened] = field(default_factory=dict)
    raci: RaciRules | None = None  # the RACI matrix and deadline settings, once defined

    @property
    def watched(self) -> list[UUID]:
        return [DIRECTORY_ID, RACI_RULES_ID, *self.aggregates]

    def version_of(self, aggregate_id: UUID) -> int | None:
        if aggregate_id == DIRECTORY_ID:
            return self.directory.version if self.directory is not None else None
        if aggregate_id == RACI_RULES_ID:
            return self.raci.version if self.raci is not None else None
        found = self.aggregates.get(aggregate_id)
        return found.version if found is not None else None

    def is_current(self, versions: dict[UUID, int]) -> bool:
        return all(versions.get(i) == self.version_of(i) for i in self.watched)

    def policies(self) -> list[EscalationPolicy]:
        ids = self.directory.policy_ids if self.directory is not None else []
        return [self.aggregates[UUID(i)] for i in ids if UUID(i) in self.aggregates]

    def matching(self, severity: str) -> list[EscalationPolicy]:
        return [p for p in self.policies() if p.matches(severity)]

    def channel_named(self, name: str) -> Channel | None:
        return next((c for c in self.aggregates.values()
                     if isinstance(c, Channel) and c.name == name), None)

    def channel(self, channel_id: str) -> Channel:
        try:
            found = self.aggregates.get(UUID(channel_id))
        except ValueError:
            found = None
        if not isinstance(found, Channel):
            raise ChannelNotFound(f"channel {channel_id} does not exist")
        return found

    def target(self, channel: Channel, at: datetime, sealer: Sealer) -> Target:
        """What a send needs, secrets opened. Raises SealingError when a key is missing."""
        opened = self._opened.get(channel.id)
        if opened is None or opened.version != channel.version or opened.sealer is not sealer:
            opened = self._opened[channel.id] = open_secrets(channel, sealer)
        previous = opened.previous_secret if channel.previous_secret_at(at) else None
        for value in (opened.secret, opened.headers, previous, opened.url):
            if isinstance(value, SealingError):
                raise value
        return Target(kind=str(channel.kind), url=opened.url, secret=opened.secret,
                      headers=opened.headers, previous_secret=previous)


def open_secrets(channel: Channel, sealer: Sealer) -> Opened:
    def attempt(open_: Callable[[Any], Any], value: Any) -> Any:
        try:
            return open_(value)
        except SealingError as error:  # kept, and raised only when the value is needed
            return error

    previous = attempt(sealer.open, channel.previous_secret) if channel.previous_secret else None
    return Opened(channel.version, sealer, attempt(sealer.open, channel.secret),
                  attempt(sealer.open_headers, channel.headers), previous,
                  channel.url if channel.kind == "webhook" else attempt(sealer.open, channel.url))


class ConfigCache:
    def __init__(self, app: Any, reads: StoreReads) -> None:
        self.app, self.reads = app, reads  # app: get_or_none, for the directory's snapshots
        self._routing = Routing()
        self._lock = threading.Lock()

    def current(self, also: Callable[[Routing], Iterable[UUID]] = lambda _: ()
                ) -> tuple[Routing, set[UUID]]:
        """The configuration as stored now, and which of the aggregates `also` names (given
        that configuration) exist: one query when nothing changed. `also` is first given the
        cached configuration, which may be stale: it must not fail on what it lacks."""
        routing = self._routing
        for _ in range(MAX_ROUNDS):
            asked = set(also(routing))
            versions = self.reads.latest_versions([*routing.watched, *asked])
            if not routing.is_current(versions):
                routing = self._refresh(routing, versions)
                if not set(also(routing)) <= asked:
                    continue  # the new configuration asks about other aggregates
            return routing, {i for i in also(routing) if i in versions}
        return routing, set(self.reads.latest_versions(also(routing)))

    def _refresh(self, seen: Routing, versions: dict[UUID, int]) -> Routing:
        with self._lock:  # one thread reloads; the others take its result
            if self._routing is not seen and self._routing.is_current(versions):
                return self._routing
            old = self._routing
            directory = (old.directory if versions.get(DIRECTORY_ID) == old.version_of(DIRECTORY_ID)
                         else self.app.get_or_none(DIRECTORY_ID))
            listed = [UUID(i) for i in (directory.channel_ids + directory.policy_ids
                                        if directory is not None else [])]
            kept = {i: old.aggregates[i] for i in listed
                    if i in old.aggregates and old.version_of(i) == versions.get(i)}
            loaded = self.reads.get_many(i for i in listed if i not in kept)
            aggregates = {i: kept[i] if i in kept else loaded[i] for i in listed
                          if i in kept or i in loaded}
            opened = {i: o for i, o in old._opened.items() if i in kept}
            raci = (old.raci if versions.get(RACI_RULES_ID) == old.version_of(RACI_RULES_ID)
                    else self.app.get_or_none(RACI_RULES_ID))
            self._routing = Routing(directory, aggregates, opened, raci)
            return self._routing
