"""The tracking rows of a service's store: which messages it processed (one row each, not a
high-water mark), where its log followers are, and pruning what no redelivery can reach."""
from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Tracking
from psycopg.sql import SQL, Identifier


class TrackingRows:
    """Mixed into ServiceApplication (its recorder)."""

    recorder: Any

    def already_processed(self, tracking: Tracking) -> bool:
        """Whether this exact message was recorded. eventsourcing's has_tracking_id() answers
        "is the highest position at least this one", which is wrong for out-of-order
        redelivery: message 10 failing after message 11 succeeded would be taken as done."""
        return tracking in self.processed_among([tracking])

    def processed_among(self, trackings: list[Tracking]) -> set[Tracking]:
        """Which of these messages were recorded, in one query."""
        recorder = self.recorder
        if not hasattr(recorder, "datastore"):  # in-memory recorders keep a high-water mark only
            return {t for t in trackings
                    if recorder.has_tracking_id(t.application_name, t.notification_id)}
        statement = SQL("SELECT application_name, notification_id FROM {}.{} "
                        "WHERE (application_name, notification_id) IN "
                        "(SELECT * FROM unnest(%s::text[], %s::bigint[]))"
                        ).format(Identifier(recorder.datastore.schema),
                                 Identifier(recorder.tracking_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, ([t.application_name for t in trackings],
                                     [t.notification_id for t in trackings]))
            return {Tracking(row["application_name"], row["notification_id"])
                    for row in curs.fetchall()}

    def position(self, follower: str) -> int:
        """Last notification id a follower of this application's log has finished with."""
        return self.recorder.max_tracking_id(follower) or 0

    def advance(self, follower: str, notification_id: int) -> None:
        """Store a follower's new position, and forget its older ones in the same transaction
        (only the highest counts), so the tracking table does not grow with every batch."""
        recorder = self.recorder
        if not hasattr(recorder, "datastore"):
            recorder.insert_tracking(Tracking(follower, notification_id))
            return
        with recorder.datastore.transaction(commit=True) as curs:
            recorder._insert_tracking(curs, Tracking(follower, notification_id))
            curs.execute(SQL("DELETE FROM {}.{} WHERE application_name = %s AND notification_id < %s"
                             ).format(Identifier(recorder.datastore.schema),
                                      Identifier(recorder.tracking_table_name)),
                         (follower, notification_id))

    def date_tracking_rows(self) -> None:
        """Give tracking rows the time they were recorded, so old ones can be pruned; rows
        written by code that does not know the column get it from the default."""
        recorder = self.recorder
        if not hasattr(recorder, "datastore"):
            return
        schema, table = recorder.datastore.schema, recorder.tracking_table_name
        with recorder.datastore.transaction(commit=True) as curs:
            # Checked first: ALTER TABLE takes an exclusive lock even when it changes nothing.
            curs.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                         "AND table_name = %s AND column_name = 'recorded_at'", (schema, table))
            if curs.fetchone() is None:
                curs.execute(SQL("ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS recorded_at "
                                 "timestamptz NOT NULL DEFAULT now()"
                                 ).format(Identifier(schema), Identifier(table)))

    def prune_tracking(self, older_than_seconds: float) -> int:
        """Forget tracking rows older than the streams keep messages (no redelivery or relay
        republish can reach back that far). The newest row of each name stays: for a log
        follower (the relay) it is its position. Ages are the database's own time."""
        recorder = self.recorder
        if not hasattr(recorder, "datastore"):
            return 0
        table = SQL("{}.{}").format(Identifier(recorder.datastore.schema),
                                    Identifier(recorder.tracking_table_name))
        with recorder.datastore.transaction(commit=True) as curs:
            curs.execute(SQL(
                "DELETE FROM {t} WHERE recorded_at < now() - make_interval(secs => %s) "
                "AND (application_name, notification_id) NOT IN "
                "(SELECT application_name, max(notification_id) FROM {t} GROUP BY application_name)"
            ).format(t=table), (older_than_seconds,))
            return curs.rowcount
