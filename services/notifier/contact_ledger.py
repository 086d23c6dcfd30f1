"""Where the per-contact windows of contact_limits.py are kept: in memory (the in-memory
store of tools and tests) or in a table of the event store's database, so that every
replica counts the same sends and a restarted one still knows what it held back. A
decision reads and rewrites one contact's rows while holding a transaction-scoped advisory
lock on that contact: two replicas cannot both take the last slot of a window."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.sql import SQL, Identifier
from psycopg.types.json import Jsonb


@dataclass
class Contact:
    """One (medium, address): its sends in the window, what is held back, and which held
    messages were told inside which sent one."""

    sent: dict[str, datetime] = field(default_factory=dict)  # delivery id -> first sent
    held: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> what it says
    carried: dict[str, tuple[dict[str, str], ...]] = field(default_factory=dict)
    folded_into: dict[str, str] = field(default_factory=dict)  # held id -> its carrier
    held_at: dict[str, datetime] = field(default_factory=dict)  # held or folded id -> when


class MemoryLedger:
    def __init__(self) -> None:
        self._contacts: dict[tuple[str, str], Contact] = {}
        self._lock = threading.Lock()  # claims run in worker threads

    @contextmanager
    def contact(self, medium: str, address: str, at: datetime) -> Iterator[Contact]:
        with self._lock:
            yield self._contacts.setdefault((medium, address), Contact())

    def forget_folded(self, medium: str, address: str, delivery_id: str) -> None:
        with self._lock:
            contact = self._contacts.get((medium, address))
            if contact is not None:
                contact.folded_into.pop(delivery_id, None)
                contact.held_at.pop(delivery_id, None)


class TableLedger:
    """`contact_sends`, one row per delivery that met a limit: sent (with what it carried),
    held, or folded (into its carrier). A contact's rows are few: sends older than the
    window are dropped by the next decision, folded ones once their delivery recorded it."""

    TABLE = "contact_sends"

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        names = {"table": SQL("{}.{}").format(Identifier(datastore.schema),
                                              Identifier(self.TABLE)),
                 "index": Identifier(f"{self.TABLE}_contact")}
        self._create = [
            SQL("CREATE TABLE IF NOT EXISTS {table} (delivery_id text PRIMARY KEY, "
                "medium text NOT NULL, address text NOT NULL, state text NOT NULL, "
                "at timestamptz NOT NULL, summary jsonb, carries jsonb, into_id text)"
                ).format(**names),
            SQL("CREATE INDEX IF NOT EXISTS {index} ON {table} (medium, address)").format(**names)]
        # Two-key advisory locks: a space of their own, apart from one-key locks elsewhere.
        self._lock = SQL("SELECT pg_advisory_xact_lock(hashtext('closedloop.contact_sends'), "
                         "hashtext(%s || '|' || %s))")
        self._select = SQL("SELECT delivery_id, state, at, summary, carries, into_id FROM {table} "
                           "WHERE medium = %s AND address = %s").format(**names)
        self._delete_many = SQL("DELETE FROM {table} WHERE delivery_id = ANY(%s)"
                                ).format(**names)
        self._delete_one = SQL("DELETE FROM {table} WHERE delivery_id = %s").format(**names)
        self._upsert = SQL(
            "INSERT INTO {table} (delivery_id, medium, address, state, at, summary, carries, "
            "into_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (delivery_id) DO "
            "UPDATE SET state = excluded.state, at = excluded.at, summary = excluded.summary, "
            "carries = excluded.carries, into_id = excluded.into_id").format(**names)
        self._created = False

    def _ensure_table(self) -> None:
        if self._created:
            return
        with self.datastore.transaction(commit=True) as curs:
            # Two replicas starting at once: the lock makes one create, the other find it.
            curs.execute(SQL("SELECT pg_advisory_xact_lock(hashtext('closedloop.contact_sends'), 0)"))
            for statement in self._create:
                curs.execute(statement)
        self._created = True

    @contextmanager
    def contact(self, medium: str, address: str, at: datetime) -> Iterator[Contact]:
        self._ensure_table()
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._lock, (medium, address))
            curs.execute(self._select, (medium, address))
            contact = Contact()
            for row in curs.fetchall():
                d = row["delivery_id"]
                if row["state"] == "sent":
                    contact.sent[d] = row["at"]
                    if row["carries"]:
                        contact.carried[d] = tuple(row["carries"])
                    continue
                contact.held_at[d] = row["at"]
                if row["state"] == "held":
                    contact.held[d] = row["summary"] or {}
                else:
                    contact.folded_into[d] = row["into_id"]
            before = rows_of(contact, at)
            yield contact
            after = rows_of(contact, at)
            # Only what changed is written: a storm held back for one person is hundreds
            # of rows, and each decision changes one or two of them.
            gone = [d for d in before if d not in after]
            if gone:
                curs.execute(self._delete_many, (gone,))
            for d, (state, row_at, summary, carries, into) in after.items():
                if before.get(d) != after[d]:
                    curs.execute(self._upsert, (
                        d, medium, address, state, row_at,
                        Jsonb(summary) if summary is not None else None,
                        Jsonb(list(carries)) if carries else None, into))

    def forget_folded(self, medium: str, address: str, delivery_id: str) -> None:
        self._ensure_table()
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._lock, (medium, address))
            curs.execute(self._delete_one, (delivery_id,))


Row = tuple[str, datetime, dict | None, tuple | None, str | None]


def rows_of(contact: Contact, at: datetime) -> dict[str, Row]:
    """A contact as its table rows: delivery id -> (state, at, summary, carries, into)."""
    rows: dict[str, Row] = {}
    for d, sent_at in contact.sent.items():
        rows[d] = ("sent", sent_at, None, contact.carried.get(d) or None, None)
    for d, summary in contact.held.items():
        rows[d] = ("held", contact.held_at.get(d, at), summary, None, None)
    for d, into in contact.folded_into.items():
        rows[d] = ("folded", contact.held_at.get(d, at), None, None, into)
    return rows
