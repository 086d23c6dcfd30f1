"""What the service applications add to eventsourcing's recorders: the tracking rows of a whole
batch of messages, and numbers issued per scope, each written in the transaction that stores
the events; plus reading the events of many aggregates in one query."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.popo import POPOProcessRecorder
from psycopg.sql import SQL, Identifier

from shared.chain import ChainedProcessRecorder


@dataclass(frozen=True)
class Numbered:
    """Number `number` of `scope` (e.g. 7 of "P1-2026-12"), issued to the aggregate
    `owner_id`. A (scope, number) is recorded once: a second writer of the same number fails
    its whole transaction, like a version conflict, and takes the next number on its retry."""

    scope: str
    number: int
    owner_id: UUID


def numbers_table_name(events_table_name: str) -> str:
    return f"{events_table_name}_numbers"


class BatchProcessRecorder(ChainedProcessRecorder):
    """Chains every stored event to the one before it (shared/chain.py), and records in the
    same transaction the tracking rows of several messages (`trackings=[...]`: a consumer's
    batch costs one commit, not one each) and the numbers issued (`numbers=[Numbered]`)."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events",
                 tracking_table_name: str = "notification_tracking") -> None:
        super().__init__(datastore, events_table_name=events_table_name,
                         tracking_table_name=tracking_table_name)
        self.numbers_table_name = numbers_table_name(events_table_name)
        self.check_identifier_length(self.numbers_table_name)
        names = {"schema": Identifier(datastore.schema),
                 "table": Identifier(self.numbers_table_name),
                 "events": Identifier(events_table_name)}
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.{table} (scope text NOT NULL, "
            "number bigint NOT NULL, owner_id uuid NOT NULL, PRIMARY KEY (scope, number))"
        ).format(**names))
        self.insert_numbers_statement = SQL(
            "INSERT INTO {schema}.{table} (scope, number, owner_id) "
            "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::uuid[])").format(**names)
        self.highest_number_statement = SQL(
            "SELECT max(number) AS highest FROM {schema}.{table} WHERE scope = %s"
        ).format(**names)
        self.number_owner_statement = SQL(
            "SELECT owner_id FROM {schema}.{table} WHERE scope = %s AND number = %s"
        ).format(**names)
        self.insert_trackings_statement = SQL(
            "INSERT INTO {schema}.{tracking} (application_name, notification_id) "
            "SELECT * FROM unnest(%s::text[], %s::bigint[])").format(
                tracking=Identifier(tracking_table_name), **names)
        self.select_many_statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{events} "
            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(**names)

    def _insert_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        trackings: list[Tracking] = kwargs.get("trackings") or []
        if trackings and not self.datastore.single_row_tracking:
            self._check_has_multi_row_tracking_table(curs)
            curs.execute(self.insert_trackings_statement, (
                [t.application_name for t in trackings],
                [t.notification_id for t in trackings]), prepare=True)
        else:
            for tracking in trackings:
                self._insert_tracking(curs, tracking=tracking)
        numbers: list[Numbered] = kwargs.get("numbers") or []
        if numbers:
            curs.execute(self.insert_numbers_statement, (
                [n.scope for n in numbers], [n.number for n in numbers],
                [n.owner_id for n in numbers]), prepare=True)
        super()._insert_events(curs, stored_events, **kwargs)

    def highest_number(self, scope: str) -> int:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.highest_number_statement, (scope,), prepare=True)
            row = curs.fetchone()
            return int(row["highest"] or 0) if row else 0

    def number_owner(self, scope: str, number: int) -> UUID | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.number_owner_statement, (scope, number), prepare=True)
            row = curs.fetchone()
            return row["owner_id"] if row else None

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """Every event of these aggregates, in one query, by aggregate and version."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_many_statement, (list(originator_ids),), prepare=True)
            return [StoredEvent(originator_id=row["originator_id"],
                                originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"]))
                    for row in curs.fetchall()]


class MemoryProcessRecorder(POPOProcessRecorder):
    """The in-memory recorder of the unit tests, with the same numbers."""

    def __init__(self) -> None:
        super().__init__()
        self._numbers: dict[tuple[str, int], UUID] = {}
        self._highest: dict[str, int] = defaultdict(int)

    def _assert_uniqueness(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        keys = [(n.scope, n.number) for n in kwargs.get("numbers") or []]
        if len(set(keys)) < len(keys) or any(key in self._numbers for key in keys):
            raise IntegrityError(f"numbers issued before: {keys}")

    def _update_table(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        notification_ids = super()._update_table(stored_events, **kwargs)
        for n in kwargs.get("numbers") or []:
            self._numbers[(n.scope, n.number)] = n.owner_id
            self._highest[n.scope] = max(self._highest[n.scope], n.number)
        return notification_ids

    def highest_number(self, scope: str) -> int:
        with self._database_lock:
            return self._highest.get(scope, 0)

    def number_owner(self, scope: str, number: int) -> UUID | None:
        with self._database_lock:
            return self._numbers.get((scope, number))

    def select_events_of(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        return [e for i in originator_ids for e in self.select_events(i)]
