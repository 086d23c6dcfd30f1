"""Tamper evidence for the event store: every stored event carries an HMAC chained to the
record written before it, and the chain's head is kept beside the log (see docs/adr)."""
from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from psycopg.sql import SQL, Identifier

GENESIS = bytes(32)  # what the first chained record links to


def link(key: bytes, prev: bytes, originator_id: UUID | str, version: int, topic: str,
         state: bytes) -> bytes:
    """The record's hash: HMAC-SHA256 over the previous record's hash and the stored bytes
    (state as stored, i.e. after compression and encryption). Fields are length-prefixed so
    no two different records hash the same input."""
    oid = originator_id.bytes if isinstance(originator_id, UUID) else str(originator_id).encode()
    topic_bytes = topic.encode()
    mac = hmac.new(key, prev, hashlib.sha256)
    mac.update(struct.pack(">I", len(oid)) + oid)
    mac.update(struct.pack(">qI", version, len(topic_bytes)) + topic_bytes)
    mac.update(state)
    return mac.digest()


def head_table_name(events_table_name: str) -> str:
    return f"{events_table_name}_head"


class ChainedProcessRecorder(PostgresProcessRecorder):
    """Writes `prev_hash` and `chain_hash` with every event, in notification order: the hash
    of the previous record is read from the head row while the events table is locked (every
    writer holds that EXCLUSIVE lock), so the chain follows the commit order. One extra
    round trip per transaction, none per event."""

    chain_key: bytes = b""  # set by the application from CHAIN_KEY; empty: unkeyed chain

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events",
                 tracking_table_name: str = "notification_tracking") -> None:
        super().__init__(datastore, events_table_name=events_table_name,
                         tracking_table_name=tracking_table_name)
        if datastore.enable_db_functions:
            # That path inserts through a database function that knows nothing of the chain.
            raise ProgrammingError("the chained recorder needs POSTGRES_ENABLE_DB_FUNCTIONS=n")
        self.head_table_name = head_table_name(events_table_name)
        self.check_identifier_length(self.head_table_name)
        names = {"schema": Identifier(datastore.schema), "table": Identifier(events_table_name),
                 "head": Identifier(self.head_table_name)}
        # Existing stores gain the columns; their older rows keep NULL ("from before the chain").
        self.sql_create_statements.append(SQL(
            "ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS prev_hash bytea, "
            "ADD COLUMN IF NOT EXISTS chain_hash bytea").format(**names))
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {schema}.{head} ("
            "one boolean PRIMARY KEY DEFAULT true CHECK (one), "
            "chain_hash bytea NOT NULL, records bigint NOT NULL)").format(**names))
        self.select_head_statement = SQL(
            "SELECT chain_hash FROM {schema}.{head} WHERE one").format(**names)
        self.upsert_head_statement = SQL(
            "INSERT INTO {schema}.{head} AS h (one, chain_hash, records) VALUES (true, %s, %s) "
            "ON CONFLICT (one) DO UPDATE SET chain_hash = excluded.chain_hash, "
            "records = h.records + excluded.records").format(**names)
        self.insert_chained_statement = SQL(
            "INSERT INTO {schema}.{table} "
            "(originator_id, originator_version, topic, state, prev_hash, chain_hash) "
            "SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[], "
            "%s::bytea[], %s::bytea[]) RETURNING notification_id"
        ).format(id_type=Identifier(datastore.originator_id_type), **names)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent],
                              **kwargs: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self.select_head_statement, prepare=True)
        row = curs.fetchone()
        prev = bytes(row["chain_hash"]) if row else GENESIS
        prevs, hashes = [], []
        for e in stored_events:
            prevs.append(prev)
            prev = link(self.chain_key, prev, e.originator_id, e.originator_version, e.topic,
                        e.state)
            hashes.append(prev)
        curs.execute(self.upsert_head_statement, (prev, len(stored_events)), prepare=True)
        # Last statement on this cursor: the caller reads the RETURNING notification ids.
        curs.execute(self.insert_chained_statement, (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events], [e.state for e in stored_events],
            prevs, hashes), prepare=True)
