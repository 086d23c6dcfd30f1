"""The firing set inhibition rules look at: the incidents the notifier has seen open and not
yet resolved or closed, with their labels. It is the `openings` read model (projection.py),
itself a projection of the notifier's own stored events, so a replay rebuilds it exactly.
Read only for alerts some inhibition rule targets, and then only the incidents sharing the
rule's `equal` labels."""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.errors import UndefinedTable
from psycopg.sql import SQL, Identifier
from psycopg.types.json import Jsonb

from services.notifier.holds.decision import Firing, targeted
from services.notifier.quiet.inhibitions import InhibitionRule

log = logging.getLogger(__name__)

# Sources read per rule and alert: an inhibition needs one, and the first are enough to
# explain it. Bounds the read when thousands of incidents share the `equal` labels.
SOURCES_PER_RULE = 200


class FiringAlerts:
    def __init__(self, app: Any, schema: str | None) -> None:
        """`schema`: the openings read model's (None: an in-memory store, no firing set)."""
        self._datastore = getattr(app.recorder, "datastore", None)
        self._query = None
        if self._datastore is not None and schema is not None:
            self._query = SQL(
                "SELECT incident_id, ref, labels FROM {}.openings WHERE firing "
                "AND incident_id <> %s AND labels @> %s ORDER BY incident_id LIMIT %s"
            ).format(Identifier(schema))

    def around(self, labels: Mapping[str, str], incident_id: str,
               rules: Sequence[InhibitionRule]) -> list[Firing]:
        """Firing incidents that could hold an alert with these labels (rule.source_of
        decides which does)."""
        rules = targeted(labels, rules)
        if not rules or self._query is None:
            return []
        found: dict[str, Firing] = {}
        try:
            with self._datastore.get_connection() as conn, conn.cursor() as curs:
                for rule in rules:
                    # Labels both alerts lack count as equal: only present ones narrow the read.
                    shared = {n: labels[n] for n in rule.definition["equal"] if labels.get(n)}
                    curs.execute(self._query, (incident_id, Jsonb(shared), SOURCES_PER_RULE))
                    for row in curs.fetchall():
                        found.setdefault(row["incident_id"], Firing(
                            row["incident_id"], row["ref"], row["labels"]))
        except UndefinedTable:  # the projection has not created its table yet
            log.info("no firing set yet: inhibition rules hold nothing until it exists")
            return []
        return list(found.values())
