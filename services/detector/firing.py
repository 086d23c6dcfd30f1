"""Which alerts are firing, held in memory so a re-sent alert is recognised without reading
its aggregate (docs/adr/alert-ingest.md). The set follows the application's own log: before
deciding, a caller catches it up to the log's head, so a change any replica stored before the
caller began is known."""
from __future__ import annotations

import asyncio
import time
from uuid import UUID

import asyncpg
from eventsourcing.utils import get_topic

from shared.readmodels import quoted

from services.detector.domain import Alert, alert_id_for
from services.detector.projections import DetectorBoard

# Only these two events change whether an alert fires (for external alerts Registered always
# comes with a Raised; Suppressed and Judged change nothing here).
FIRES = {get_topic(Alert.Raised): True, get_topic(Alert.Resolved): False}
PAGE = 5000


class FiringSet:
    """Alert aggregate id → firing (True) or resolved (False); an id it does not hold was
    never raised. Correct as of `position`, a notification id of the application's log."""

    def __init__(self, events_table: str) -> None:
        self._firing: dict[UUID, bool] = {}
        self.position: int | None = None  # None: not built yet
        self._lock = asyncio.Lock()
        self._caught_up_from = float("-inf")  # when the last finished catch-up began
        # Three narrow columns, not eventsourcing's select_notifications (every column,
        # state bytes included): the state is never needed here.
        self._since = (f"SELECT notification_id, originator_id, topic FROM {events_table} "
                       "WHERE notification_id > $1 AND topic = ANY($2::text[]) "
                       "ORDER BY notification_id LIMIT $3")

    def get(self, alert_id: UUID) -> bool | None:
        return self._firing.get(alert_id)

    def __len__(self) -> int:
        return len(self._firing)

    async def catch_up(self, pool: asyncpg.Pool, since: float) -> None:
        """Apply what the log holds beyond our position. `since` (time.monotonic()) is when
        the caller began: a catch-up that began later has seen every save that finished
        before, so concurrent callers share one query instead of queueing one each. The
        log's ids are in commit order (its writers lock the table), so nothing committed
        later can appear behind the position."""
        async with self._lock:
            if self._caught_up_from > since:
                return
            began = time.monotonic()
            async with pool.acquire() as conn:
                if self.position is None:
                    self._firing, self.position = await from_alert_board(conn)
                while True:
                    rows = await conn.fetch(self._since, self.position, list(FIRES), PAGE)
                    for notification_id, originator_id, topic in rows:
                        self._firing[originator_id] = FIRES[topic]
                    if rows:
                        self.position = rows[-1][0]
                    if len(rows) < PAGE:
                        break
            self._caught_up_from = began


async def from_alert_board(conn: asyncpg.Connection) -> tuple[dict[UUID, bool], int]:
    """The alert board read model (projections.py) and the log position it was written up to,
    read in one snapshot: the catch-up then reads only the log beyond it, not every alert
    event ever stored. The read-model pool's search_path names this code's version first."""
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            position = await conn.fetchval("SELECT position FROM projection_positions "
                                           "WHERE projection = $1", DetectorBoard.name)
            rows = await conn.fetch("SELECT fingerprint, status = 'firing' FROM alerts")
    except asyncpg.UndefinedTableError:  # being rebuilt (closedloop replay): the log has it all
        return {}, 0
    if position is None:
        return {}, 0
    return {alert_id_for(fingerprint): firing for fingerprint, firing in rows}, position


def events_table(recorder: object) -> str:
    """The qualified name of the application's events table."""
    return (f"{quoted(recorder.datastore.schema)}."  # type: ignore[attr-defined]
            f"{quoted(recorder.events_table_name)}")  # type: ignore[attr-defined]
