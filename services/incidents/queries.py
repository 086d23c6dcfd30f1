"""Reading incidents, mixed into IncidentsApplication: by uuid or human ref (P0-2026-11-001),
as plain data with the timeline; never the aggregate itself."""
from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from services.incidents.domain import Incident, IncidentNotFound, RefIndex, parse_ref
from services.incidents.timeline import timeline_of

REF = re.compile(r"^P[0-3]-\d{4}-\d{2}-\d{3,}$", re.IGNORECASE)


class IncidentQueries:
    """Needs the application's get_or_none, stored_events and number_owner."""

    def incident(self, id_or_ref: str) -> dict[str, Any]:
        incident = self._incident(id_or_ref)
        return {**state_of(incident), "timeline": self.timeline(str(incident.id))}

    def timeline(self, id_or_ref: str) -> list[dict[str, Any]]:
        events = self.stored_events(self._id_of(id_or_ref))  # type: ignore[attr-defined]
        if not events or not isinstance(events[0], Incident.Opened):
            raise IncidentNotFound(f"no incident has the id or ref {id_or_ref!r}")
        return timeline_of(events)

    def _id_of(self, id_or_ref: str) -> UUID:
        """The id an incident would have, from its uuid or its human ref (P0-2026-11-001)."""
        text = id_or_ref.strip()
        if REF.match(text):
            if (numbered := parse_ref(text)) and (
                    owner := self.number_owner(*numbered)):  # type: ignore[attr-defined]
                return owner
            # Issued by an earlier release, which indexed its refs in RefIndex aggregates.
            index = self.get_or_none(  # type: ignore[attr-defined]
                RefIndex.create_id(text.upper()))
            if isinstance(index, RefIndex):
                return index.incident_id
        elif (incident_id := uuid_or_none(text)) is not None:
            return incident_id
        raise IncidentNotFound(f"no incident has the id or ref {id_or_ref!r}")

    def _incident(self, id_or_ref: str) -> Incident:
        incident = self.get_or_none(self._id_of(id_or_ref))  # type: ignore[attr-defined]
        if not isinstance(incident, Incident):
            raise IncidentNotFound(f"no incident has the id or ref {id_or_ref!r}")
        return incident


def state_of(incident: Incident) -> dict[str, Any]:
    return {
        "id": str(incident.id), "ref": incident.ref, "status": str(incident.status),
        "status_label": incident.status.label, "severity": str(incident.severity),
        "title": incident.title, "entity": incident.entity, "fingerprint": incident.fingerprint,
        "occurrence": incident.occurrence, "alert_ids": list(incident.alert_ids),
        "cleared_alert_ids": list(incident.cleared_alert_ids),
        "opened_at": incident.opened_at, "respond_by": incident.respond_by,
        "resolve_by": incident.resolve_by, "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": incident.acknowledged_by, "resolved_at": incident.resolved_at,
        "resolved_by": incident.resolved_by, "resolution": incident.resolution,
        "capa_id": incident.capa_id, "root_cause": incident.root_cause,
        "verified_action_ids": list(incident.verified_action_ids),
        "sla_breaches": list(incident.sla_breaches),
        "raci": {str(role): list(people) for role, people in incident.raci.items()},
        "closed_at": incident.closed_at, "archived_at": incident.archived_at,
        "reporter": incident.reporter, "followers": list(incident.followers),
        "progress_updates": incident.progress_posted, "reopened": incident.reopened_times,
        "support": {"tier": incident.tier, "next_tier": incident.next_tier,
                    "handovers": len(incident.handovers), "score": incident.score},
        "version": incident.version,
    }


def uuid_or_none(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None
