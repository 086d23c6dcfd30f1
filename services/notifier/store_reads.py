"""Reads that answer for many aggregates in one query: their latest versions (has anything
changed? does it exist?) and their current state. eventsourcing reads one aggregate per
query; the notifier's hot paths ask about dozens at a time. Aggregates with snapshots are
not read here (their events alone may not start at version 1)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent
from psycopg.sql import SQL, Identifier

from shared.store import replayed


class IdList(tuple[UUID, ...]):
    """Ids asked about again and again (a cache's aggregates): their SQL array literal is
    written once, instead of each id being converted on every question."""

    @cached_property
    def literal(self) -> str:
        return "{" + ",".join(map(str, self)) + "}"


class StoreReads:
    def __init__(self, app: Application) -> None:
        self.app = app
        recorder = app.recorder
        self._datastore = getattr(recorder, "datastore", None)  # None: the in-memory store
        if self._datastore is not None:
            table = SQL("{}.{}").format(Identifier(self._datastore.schema),
                                        Identifier(recorder.events_table_name))
            ids = SQL("%s::{}[]").format(Identifier(self._datastore.originator_id_type))
            self._versions = SQL(
                "SELECT originator_id, max(originator_version) AS version FROM {t} "
                "WHERE originator_id = ANY({ids}) GROUP BY originator_id").format(t=table, ids=ids)
            # One row however many ids: versions only grow, so the count of aggregates that
            # exist and the sum of their latest versions change whenever any of them does.
            self._fingerprint = SQL(
                "SELECT count(*) AS present, coalesce(sum(version), 0) AS total FROM ("
                "SELECT max(originator_version) AS version FROM {t} "
                "WHERE originator_id = ANY({ids}) GROUP BY originator_id) AS latest"
            ).format(t=table, ids=ids)
            self._events = SQL(
                "SELECT originator_id, originator_version, topic, state FROM {t} "
                "WHERE originator_id = ANY({ids}) ORDER BY originator_id, originator_version"
            ).format(t=table, ids=ids)

    def latest_versions(self, ids: Iterable[UUID]) -> dict[UUID, int]:
        """The latest stored version of each aggregate that exists (absent: it does not)."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        if self._datastore is None:
            return self._versions_in_memory(wanted)
        return {row["originator_id"]: row["version"] for row in self._fetch(self._versions, wanted)}

    def fingerprint(self, ids: Iterable[UUID]) -> tuple[int, int]:
        """How many of these aggregates exist and the sum of their latest versions: equal to
        `fingerprint_of(latest_versions(ids))` and unchanged only while none of them changed
        (events are never removed). Asking costs one row, not one per id: a cache of
        thousands of aggregates checks it before each use."""
        wanted = ids if isinstance(ids, IdList) else IdList(dict.fromkeys(ids))
        if not wanted:
            return 0, 0
        if self._datastore is None:
            return fingerprint_of(self._versions_in_memory(list(wanted)))
        [row] = self._fetch(self._fingerprint, wanted.literal)
        return int(row["present"]), int(row["total"])

    def get_many(self, ids: Iterable[UUID]) -> dict[UUID, Any]:
        """The current state of each aggregate that exists, read in one query."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        if self._datastore is None:
            return {i: self.app.repository.get(i) for i in wanted
                    if self.app.recorder.select_events(i, limit=1)}
        events: dict[UUID, list[Any]] = defaultdict(list)
        for row in self._fetch(self._events, wanted):
            stored = StoredEvent(originator_id=row["originator_id"],
                                 originator_version=row["originator_version"],
                                 topic=row["topic"], state=bytes(row["state"]))
            events[stored.originator_id].append(self.app.mapper.to_domain_event(stored))
        return {i: replayed(None, history) for i, history in events.items()}

    def _versions_in_memory(self, ids: list[UUID]) -> dict[UUID, int]:
        found = {i: self.app.recorder.select_events(i, desc=True, limit=1) for i in ids}
        return {i: events[0].originator_version for i, events in found.items() if events}

    def _fetch(self, statement: SQL, ids: list[UUID] | str) -> list[dict[str, Any]]:
        with self._datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, (ids,), prepare=True)
            return curs.fetchall()


def fingerprint_of(versions: dict[UUID, int]) -> tuple[int, int]:
    return len(versions), sum(versions.values())
