"""The organisation chart kept in memory and checked against the store before each use: one
query asks for the latest version of the listing and of every entry, and only what changed
is read again. A change saved by any replica is seen by the next question asked."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from services.notifier.directory.chart import OrgChart
from services.notifier.directory.organisation import ORGANISATION_ID
from services.notifier.directory.views import chart_of
from services.notifier.store_reads import IdList, StoreReads, fingerprint_of


@dataclass(frozen=True)
class Loaded:
    """The chart and the versions it was built from (absent: the aggregate did not exist)."""

    versions: dict[UUID, int] = field(default_factory=dict)
    organisation: Any = None
    entries: dict[UUID, Any] = field(default_factory=dict)
    chart: OrgChart = field(default_factory=OrgChart)
    ids: IdList = field(init=False)  # what the next check asks about: listing and entries

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", IdList([ORGANISATION_ID, *self.entries]))


class OrgCache:
    def __init__(self, app: Any, reads: StoreReads) -> None:
        self.app, self.reads = app, reads  # app: get_or_none, for the listing's snapshots
        self._loaded = Loaded()
        self._lock = threading.Lock()

    def current(self) -> OrgChart:
        seen = self._loaded
        ids = seen.ids
        # First the one-row question (did anything change?), and only when something did,
        # which: with a thousand people and units, reading every version back on each
        # incident cost more than everything else the notifier does for it.
        if self.reads.fingerprint(ids) == fingerprint_of(seen.versions):
            return seen.chart
        versions = self.reads.latest_versions(ids)
        if versions == seen.versions:
            return seen.chart
        with self._lock:  # one thread reloads; the others take its result
            if self._loaded is not seen and self._loaded.versions == versions:
                return self._loaded.chart
            self._loaded = self._reload(self._loaded, versions)
            return self._loaded.chart

    def _reload(self, old: Loaded, versions: dict[UUID, int]) -> Loaded:
        organisation = old.organisation
        if versions.get(ORGANISATION_ID) != old.versions.get(ORGANISATION_ID):
            organisation = self.app.get_or_none(ORGANISATION_ID)
        listed = organisation.listed_ids if organisation is not None else []
        kept = {i: old.entries[i] for i in listed
                if i in old.entries and old.entries[i].version == versions.get(i)}
        loaded = self.reads.get_many(i for i in listed if i not in kept)
        entries = {i: kept[i] if i in kept else loaded[i] for i in listed
                   if i in kept or i in loaded}
        known = {i: e.version for i, e in entries.items()}
        if organisation is not None:
            known[ORGANISATION_ID] = organisation.version
        return Loaded(known, organisation, entries, chart_of(organisation, list(entries.values())))
