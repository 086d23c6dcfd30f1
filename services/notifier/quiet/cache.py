"""The quiet rules and routing tree kept in memory for decisions, checked against the store
before each use: one query for the latest versions of what is listed, and only what changed
is read again (the same approach as the channels' and policies' cache)."""
from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from services.notifier.quiet.holds import Hold, hold_ends, held_by
from services.notifier.quiet.index import QUIET_INDEX_ID, QuietIndex
from services.notifier.quiet.inhibitions import InhibitionRule
from services.notifier.quiet.routes import ROUTES_ID, default_tree
from services.notifier.quiet.silences import Silence
from services.notifier.quiet.tree import Policy, Route, Routed, route
from services.notifier.quiet.windows import MaintenanceWindow
from services.notifier.store_reads import StoreReads

Labels = Mapping[str, str]


@dataclass(frozen=True)
class QuietRules:
    """The tree and the rules at known versions. Shared between threads: never change them."""

    tree: Route = field(default_factory=default_tree)
    index: QuietIndex | None = None
    aggregates: dict[UUID, Any] = field(default_factory=dict)
    versions: dict[UUID, int] = field(default_factory=dict)

    def of(self, kind: type) -> list[Any]:
        return [a for a in self.aggregates.values() if isinstance(a, kind)]

    def route(self, labels: Labels, policies: Sequence[Policy]) -> Routed:
        return route(self.tree, labels, policies)

    def held_by(self, labels: Labels, at: datetime, firing: Iterable[Labels] = ()) -> Hold | None:
        return held_by(labels, at, self.of(Silence), self.of(MaintenanceWindow),
                       self.of(InhibitionRule), firing)

    def hold_ends(self, labels: Labels, at: datetime,
                  firing: Iterable[Labels] = ()) -> tuple[datetime | None, Hold | None]:
        return hold_ends(labels, at, self.of(Silence), self.of(MaintenanceWindow),
                         self.of(InhibitionRule), firing)


class QuietCache:
    def __init__(self, app: Any, reads: StoreReads) -> None:
        self.app, self.reads = app, reads  # app: get_or_none, for the index's snapshots
        self._rules = QuietRules()
        self._lock = threading.Lock()

    def current(self) -> QuietRules:
        rules = self._rules
        listed = rules.index.ids() if rules.index is not None else []
        versions = self.reads.latest_versions([ROUTES_ID, QUIET_INDEX_ID, *listed])
        if versions == rules.versions:
            return rules
        return self._refresh(versions)

    def _refresh(self, seen: dict[UUID, int]) -> QuietRules:
        with self._lock:  # one thread reloads; the others take its result
            old = self._rules
            if old.versions == seen:
                return old
            index = (old.index if seen.get(QUIET_INDEX_ID) == old.versions.get(QUIET_INDEX_ID)
                     else self.app.get_or_none(QUIET_INDEX_ID))
            listed = index.ids() if index is not None else []
            versions = self.reads.latest_versions([ROUTES_ID, QUIET_INDEX_ID, *listed])
            kept = {i: a for i, a in old.aggregates.items()
                    if i in listed and old.versions.get(i) == versions.get(i)}
            routes_changed = versions.get(ROUTES_ID) != old.versions.get(ROUTES_ID)
            stored = self.reads.get_many(
                [*([ROUTES_ID] if routes_changed else []),
                 *(i for i in listed if i not in kept and i in versions)])
            routes = stored.pop(ROUTES_ID, None)
            tree = (old.tree if not routes_changed
                    else routes.parsed if routes is not None else default_tree())
            # Versions of what was read (a change saved meanwhile shows at the next check).
            versions.pop(QUIET_INDEX_ID, None)
            if index is not None:
                versions[QUIET_INDEX_ID] = index.version
            versions.update({i: a.version for i, a in stored.items()})
            if routes is not None:
                versions[ROUTES_ID] = routes.version
            self._rules = QuietRules(tree, index, {**kept, **stored}, versions)
            return self._rules
