"""Event store plumbing: an eventsourcing Application per service, in its own Postgres schema."""
from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.application import (
    AggregateNotFoundError, Application, ProcessingEvent,
)
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.popo import POPOFactory
from psycopg.conninfo import conninfo_to_dict
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from shared.batch import Batch, ChangedInThisBatch, collect
from shared.chain import ChainedProcessRecorder
from shared.errors import DomainError
from shared.recorders import MemoryProcessRecorder, Numbered
from shared.tracking_rows import TrackingRows

A = TypeVar("A")
# psycopg's pool closes one connection beyond the two kept each time this long passes with
# one unused (its default is 10 minutes): the ~6 a storm opens per service exit within a
# minute of it, each ~3 MiB of a PostgreSQL backend; reopening one costs a few milliseconds.
POOL_IDLE_SECONDS = 10.0

__all__ = ["ServiceApplication", "Tracking", "IntegrityError", "Numbered", "ChangedInThisBatch",
           "eventsourcing_env", "ensure_schema"]


def eventsourcing_env(database_url: str, schema: str, cipher_key: str = "",
                      chain_key: str = "") -> dict[str, str]:
    """Translate a PostgreSQL URL (TCP or unix socket) into eventsourcing's settings."""
    info = conninfo_to_dict(database_url)
    cipher = {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": cipher_key,
              "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"} if cipher_key else {}
    return {**cipher,
        # Keys the hash chain of stored events (shared/chain.py); empty: an unkeyed chain.
        "CHAIN_KEY": chain_key,
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(info.get("dbname") or "postgres"),
        "POSTGRES_HOST": str(info.get("host") or "127.0.0.1"),
        "POSTGRES_PORT": str(info.get("port") or "5432"),
        "POSTGRES_USER": str(info.get("user") or "postgres"),
        "POSTGRES_PASSWORD": str(info.get("password") or ""),
        "POSTGRES_SCHEMA": schema,
        # JetStream may redeliver out of order: one tracking row per message, not a high-water mark.
        "SINGLE_ROW_TRACKING": "n",
        # One connection kept, and one per worker thread at most: the store is used from
        # asyncio's default executor, so more could never be busy at once (each PostgreSQL
        # backend holds 2-3 MiB of its own; docs/adr/database-connections.md).
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": str(executor_threads() - 1),
        "POSTGRES_LOCK_TIMEOUT": "5",
        # Waiting for a pooled connection fails after 5 s (not 30): during an outage callers
        # learn it well inside JetStream's ack_wait, and consumers hold their messages instead.
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "PROCESS_RECORDER_TOPIC": "shared.recorders:BatchProcessRecorder",
    }


def executor_threads() -> int:
    """The worker threads of asyncio's default executor (its own formula, Python 3.8+)."""
    return min(32, (os.cpu_count() or 1) + 4)


def ensure_schema(database_url: str, schema: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Checking first lets a role without CREATE on the database use a prepared schema.
        if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def replayed(aggregate: Any, events: Iterable[Any]) -> Any:
    """eventsourcing's `project_aggregate` without its `assert isinstance(event,
    CanMutateProtocol)` per event: a runtime-Protocol check, ~7% of capa's CPU in a storm
    (py-spy), where a batch replays a rule's signature of one event per incident."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class ServiceApplication(TrackingRows, Application[UUID]):
    """An Application that records tracking rows atomically with the events a message caused,
    and tells in-process followers (relay, projections) the moment something was saved."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()
        self._local = threading.local()  # the batch being collected by this thread, if any
        super().__init__(env)
        read = self.repository.get

        def get(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("projector_func", replayed)
            batch = self._batch()
            if batch is None or not batch.knows(aggregate_id):
                return read(aggregate_id, *args, **kwargs)
            if args or kwargs.get("version") is not None:  # an earlier version
                if aggregate_id not in batch.aggregates:
                    return read(aggregate_id, *args, **kwargs)
                # The store holds none of the batch's versions yet: go one by one instead.
                raise ChangedInThisBatch(f"aggregate {aggregate_id} changed earlier in the batch")
            return batch.get(aggregate_id)  # read your own writes

        self.repository.get = get  # type: ignore[method-assign]

    def construct_factory(self, env: Any) -> Any:
        factory = super().construct_factory(env)
        pool = getattr(getattr(factory, "datastore", None), "pool", None)
        if pool is not None:  # set before the pool opens: its shrink timer takes it then
            pool.max_idle = POOL_IDLE_SECONDS
        return factory

    def construct_recorder(self):  # type: ignore[override]
        if isinstance(self.factory, POPOFactory):
            return MemoryProcessRecorder()
        recorder = self.factory.process_recorder()
        if isinstance(recorder, ChainedProcessRecorder):
            recorder.chain_key = (self.env.get("CHAIN_KEY") or "").encode()
        return recorder

    def _batch(self) -> Batch | None:
        return getattr(self._local, "batch", None)

    # -- saving ---------------------------------------------------------------------------
    def save_tracked(self, *objs: Any, tracking: Tracking | None,
                     numbers: tuple[Numbered, ...] = ()) -> None:
        """Save aggregates and, in the same transaction, the position of the message that
        caused them and the numbers issued to them (next_number). Raises IntegrityError when
        that message was already processed, or another writer took one of the numbers."""
        batch = self._batch()
        if batch is not None:  # inside save_batch(): written together at the end
            batch.collect(objs, tracking, numbers)
            return
        processing = ProcessingEvent(tracking=tracking)
        processing.saved_kwargs["numbers"] = list(numbers)
        self._write(processing, objs)

    def in_batch(self) -> bool:
        """Whether save_batch() is collecting what is saved: a handler saving several things
        then just saves them, and the batch writes them with its tracking rows."""
        return self._batch() is not None

    def save_batch(self, run: Callable[[], None]) -> None:
        """Run several message handlers and write everything they saved, with every tracking
        row, in one transaction. A handler reads what earlier handlers of the batch saved as
        they left it. Any failure (a conflict, a redelivery, a handler error) writes nothing
        and raises; the caller then handles the messages one by one."""
        batch = Batch()
        self._local.batch = batch
        try:
            run()
        finally:
            self._local.batch = None
        self._write(batch, ())

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """As eventsourcing's save; inside save_batch() or save_together() what is saved is
        collected and written with the rest of the batch."""
        batch = self._batch()
        if batch is None or kwargs:
            return super().save(*objs, **kwargs)
        batch.collect(objs, None, ())
        return []

    def save_together(self, commands: Iterable[Callable[[], A]],
                      refused: tuple[type[Exception], ...] = (DomainError,),
                      read_ahead: Iterable[UUID] = ()) -> list[A | Exception]:
        """Run several commands (each a get → call → save) and write all they saved in one
        transaction: one commit instead of one each, and the aggregates named in `read_ahead`
        (never snapshotted ones) read in one query. A command its guards refuse (`refused`)
        saves nothing and its error is its result; any other failure, or a conflict when the
        batch is written, writes nothing and raises: the caller then runs the commands one by
        one, where each gets its own verdict."""
        results: list[A | Exception] = []

        def run() -> None:
            self.read_ahead(read_ahead, never_snapshotted=True)
            for command in commands:
                try:
                    results.append(command())
                except refused as refusal:
                    results.append(refusal)

        self.save_batch(run)
        return results

    def _write(self, processing: ProcessingEvent, objs: tuple[Any, ...]) -> None:
        collect(processing, objs)
        recordings = self._record(processing)  # also refreshes the aggregate cache, if any
        self._take_snapshots(processing)
        self._notify(recordings)

    def next_number(self, scope: str, floor: int = 0) -> int:
        """The next gap-free number of `scope` (at least floor + 1); it is issued when saved
        with save_tracked(numbers=...). Inside a batch, the store is asked once per scope."""
        batch = self._batch()
        if batch is not None and scope in batch.highest:
            return batch.highest[scope] + 1
        highest = max(self.recorder.highest_number(scope), floor)
        if batch is not None:
            batch.highest[scope] = highest
        return highest + 1

    def number_owner(self, scope: str, number: int) -> UUID | None:
        """The aggregate number `number` of `scope` was issued to."""
        return self.recorder.number_owner(scope, number)

    def _notify(self, recordings: list[Any]) -> None:
        if recordings:
            self.wake_followers()

    def wake_followers(self) -> None:
        """Tell log followers (relay, projections) there is something new to read."""
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener()
            except RuntimeError:  # its event loop has closed; the save itself succeeded
                self.remove_save_listener(listener)

    def add_save_listener(self, listener: Callable[[], None]) -> None:
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_save_listener(self, listener: Callable[[], None]) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def retry_on_conflict(self, attempt: Callable[[], A], attempts: int = 5) -> A:
        """Run a whole get → call → save again when another writer changed the same aggregate
        first, so the command's guards are checked against the winner's result. The short,
        jittered pause lets a consumer that is writing a run of events to the same aggregate
        finish its run instead of winning every race; the last conflict is raised (HTTP 409)."""
        retrying = Retrying(retry=retry_if_exception_type(IntegrityError),
                            stop=stop_after_attempt(attempts),
                            wait=wait_random_exponential(multiplier=0.005, max=0.2),
                            reraise=True)
        return retrying(attempt)

    # -- reading --------------------------------------------------------------------------
    def get_or_none(self, aggregate_id: UUID) -> Any | None:
        batch = self._batch()
        if batch is not None and batch.known_missing(aggregate_id):
            return None  # no exception raised and caught per miss: a storm scans hundreds
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def read_ahead(self, aggregate_ids: Iterable[UUID],
                   never_snapshotted: bool = False) -> dict[UUID, Any]:
        """Inside a batch, read these aggregates in one query for its handlers, who then get
        them without a round trip each (a miss too). Returns those found, to look at, not to
        change. Outside a batch, or with snapshots (read from the snapshot, one by one), reads
        nothing, unless the caller knows these are of a type never snapshotted (one not in
        `snapshotting_intervals`): their events are then all there is."""
        batch = self._batch()
        if batch is None or (self.snapshots is not None and not never_snapshotted):
            return {}
        wanted = [i for i in dict.fromkeys(aggregate_ids) if not batch.knows(i)]
        events: dict[UUID, list[Any]] = defaultdict(list)
        for stored in self.recorder.select_events_of(wanted) if wanted else ():
            events[stored.originator_id].append(self.mapper.to_domain_event(stored))
        for aggregate_id in wanted:
            found = events.get(aggregate_id)
            batch.read_ahead[aggregate_id] = replayed(None, found) if found else None
        return {i: a for i, a in batch.read_ahead.items() if a is not None and i in events}

    def known_missing(self, aggregate_ids: Iterable[UUID]) -> None:
        """Inside a batch, these aggregates are known not to exist (they would be created
        later, by a message yet to come): later reads of the batch then skip the store."""
        batch = self._batch()
        for aggregate_id in aggregate_ids if batch is not None else ():
            if not batch.knows(aggregate_id):
                batch.read_ahead[aggregate_id] = None

    def stored_events(self, aggregate_id: UUID) -> list[Any]:
        return list(self.events.get(aggregate_id))

    def decode(self, notification: Any) -> Any:
        return self.mapper.to_domain_event(notification)
