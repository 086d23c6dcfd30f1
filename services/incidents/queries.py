"""Reading incidents, mixed into IncidentsApplication: by uuid or human ref (P0-2026-11-001),
as plain data with the timeline; never the aggregate itself."""
from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from services.incidents.cadence_views import progress_of
from services.incidents.domain import Incident, IncidentNotFound, RefIndex, parse_ref
from services.incidents.timeline import timeline_of

REF = re.compile(r"^P[0-3]-\d{4}-\d{2}-\d{3,}$", re.IGNORECASE)


class IncidentQueries:
    """Needs the application's get_or_none, stored_events and number_owner."""

    def incident(self, id_or_ref: str) -> dict[str, Any]:
        incident = self._incident(id_or_ref)
        return {**state_of(incident), "timeline": self.timeline(str(incident.id)),
                "progress": progress_of(incident, self.clock.now())}  # type: ignore[attr-defined]

    def incident_alerts(self, id_or_ref: str) -> list[dict[str, Any]]:
        """Every alert the incident holds, in the order they came (its group's, the storm's
        gathered ones), each with when it cleared."""
        events = self.stored_events(self._id_of(id_or_ref))  # type: ignore[attr-defined]
        if not events or not isinstance(events[0], Incident.Opened):
            raise IncidentNotFound(f"no incident has the id or ref {id_or_ref!r}")
        return alerts_of(events)

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
    state = {
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
        "close_by": incident.close_by, "at_risk": incident.sla_at_risk_now(),
        "at_risk_by": dict(incident.at_risk_by), "paused_since": incident.paused_since,
        "sla_policy": incident.sla_policy,
        "raci": {str(role): list(people) for role, people in incident.raci.items()},
        "closed_at": incident.closed_at, "archived_at": incident.archived_at,
        "reporter": incident.reporter, "followers": list(incident.followers),
        "progress_updates": incident.progress_posted, "reopened": incident.reopened_times,
        "support": {"tier": incident.tier, "next_tier": incident.next_tier,
                    "handovers": len(incident.handovers), "score": incident.score},
        "closing": closing_of(incident), "drill": incident.drill,
        "drill_reason": incident.drill_reason,
        "version": incident.version, "storm": storm_of(incident),
    }
    if incident.intake:  # declared by hand (intake/): source, report, classification
        state["intake"] = {**incident.intake, "corrections": incident.corrections}
    return state


def storm_of(incident: Incident) -> dict[str, Any] | None:
    """The storm's counts while it grows and once it ended; None for other incidents."""
    if incident.storm_started_at is None:
        return None
    return {"alerts": incident.storm_alerts, "entities": len(incident.storm_entities or {}),
            "threshold": incident.storm_threshold,
            "window_seconds": incident.storm_window_seconds,
            "started_at": incident.storm_started_at, "ended_at": incident.storm_ended_at}


def alerts_of(events: list[Any]) -> list[dict[str, Any]]:
    opened = events[0]
    listed: dict[str, dict[str, Any]] = {}
    for e in events:
        alert = getattr(e, "alert", None)
        if isinstance(e, (Incident.Opened, Incident.AlertAttached, Incident.AlertGathered)) \
                and alert.get("source") != "storm control":  # the storm's own opening
            listed[alert["alert_id"]] = {
                "alert_id": alert["alert_id"], "name": alert.get("name"),
                "fingerprint": alert.get("fingerprint", opened.fingerprint),
                "entity": alert.get("entity", opened.entity),
                "severity": alert.get("severity", opened.severity),
                "labels": alert.get("labels") or {}, "value": alert.get("value"),
                "at": e.at, "cleared_at": None}
        elif isinstance(e, Incident.AlertCleared) and e.alert_id in listed:
            listed[e.alert_id]["cleared_at"] = e.cleared_at
    return list(listed.values())


def closing_of(incident: Incident) -> dict[str, Any] | None:
    """How the resolved incident closes (none before it is resolved, unless a failed
    observation sent it back: that decides how its next resolution closes)."""
    if incident.resolved_at is None and incident.closed_at is None \
            and not incident.observations_failed:
        return None
    return {"path": incident.closing, "observe_seconds": incident.observe_seconds,
            "observe_started_at": incident.observe_started_at,
            "observe_ends_at": incident.observe_ends_at,
            "observations_failed": incident.observations_failed,
            "capa_requested": incident.capa_requested,
            "closed_via": incident.closing_path if incident.closed_at else None,
            "closed_by": incident.closed_by, "note": incident.closing_note}


def uuid_or_none(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None
