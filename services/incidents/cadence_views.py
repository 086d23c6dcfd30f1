"""How the progress cadence's `UpdateDue` is told: as IncidentProgressDue on the bus (the
notifier chases it), as the `next_update_by` column of the `incidents` read model (lists
find the incidents whose update is overdue). Not on the timeline: the update's own line says
when the next is due, and an opening's due follows from its severity."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from shared.contracts import IncidentProgressDue
from shared.row_writes import own_rows

from services.incidents.domain.cadence import IncidentCadence as C
from services.incidents.domain.incident import Incident


def _due(e: Any) -> IncidentProgressDue:
    return IncidentProgressDue(incident_id=str(e.originator_id), ref=e.ref, severity=e.severity,
                               due_by=e.due_by, since=e.since, why=e.why, at=e.at,
                               stated=e.stated, last_update=e.last_update)


CADENCE_CONTRACTS = {C.UpdateDue: _due}
CADENCE_STORY: dict[type, tuple[None, None]] = {C.UpdateDue: (None, None)}

# The column is read with the incident's resolution: overdue means due, past, unresolved.
CADENCE_COLUMNS = """
    next_update_by timestamptz,"""


@own_rows
async def update_due(conn: asyncpg.Connection, e: Any) -> None:
    await conn.execute("UPDATE incidents SET next_update_by = $2 WHERE id = $1",
                       e.originator_id, e.due_by)


CADENCE_ROWS = {C.UpdateDue: update_due}


def progress_of(incident: Incident, now: datetime) -> dict[str, Any]:
    """What GET /v1/incidents/{ref} shows of the cadence."""
    return {"next_update_by": incident.next_update_due(), "overdue": incident.update_overdue(now),
            "since": incident.update_since, "stated": incident.update_stated,
            "last_update_at": incident.last_update_at}
