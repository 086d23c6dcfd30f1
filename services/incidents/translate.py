"""Private incident events → public contracts; everything else stays inside the service."""
from __future__ import annotations


from shared.bus.relay import translator
from shared.contracts import (
    IncidentAcknowledged, IncidentClosed, IncidentOpened, IncidentPageRead, IncidentResolved,
    IncidentRoleAssigned, IncidentSlaBreached,
)

from services.incidents.cadence_views import CADENCE_CONTRACTS
from services.incidents.checklist_views import CHECKLIST_CONTRACTS
from services.incidents.closing_views import CLOSING_CONTRACTS
from services.incidents.domain import STORM_PREFIX, Incident
from services.incidents.lifecycle_views import LIFECYCLE_CONTRACTS
from services.incidents.sla_views import SLA_CONTRACTS
from services.incidents.stages import STAGE_STEPS
from services.incidents.tier_views import TIER_CONTRACTS



def _opened(e: Incident.Opened) -> IncidentOpened:
    return IncidentOpened(
        incident_id=str(e.originator_id), ref=e.ref, fingerprint=e.fingerprint,
        severity=e.severity, title=e.title, entity=e.entity, alert_id=e.alert["alert_id"],
        opened_at=e.at, respond_by=e.respond_by, resolve_by=e.resolve_by,
        labels=labels_of(e), trial=bool(e.alert.get("trial", False)),
        metric=e.alert.get("metric"), value=e.alert.get("value"),
        threshold=e.alert.get("threshold"), firing_since=e.alert.get("started_at"),
        reporter=e.alert.get("reporter"), drill=bool(e.alert.get("drill", False)),
        **intake_of(e))


def intake_of(e: Incident.Opened) -> dict:
    intake = e.alert.get("intake") or {}
    return {"source": intake.get("source"), "problem_type": intake.get("problem_type"),
            "description": intake.get("description") or None,
            "attachments": list(intake.get("attachments") or [])}


def labels_of(e: Incident.Opened) -> dict[str, str]:
    """What the notifier's routes and quiet rules match on: the alert's labels, with
    `alertname` and `entity` where the alert has none (as Alertmanager names them), and
    `severity` always the incident's (an Alertmanager alert's own `critical` is not a level)."""
    labels = {str(k): str(v) for k, v in (e.alert.get("labels") or {}).items()}
    labels.setdefault("alertname", str(e.alert.get("name") or ""))
    labels.setdefault("entity", e.entity)
    labels["severity"] = e.severity
    return labels


def _acknowledged(e: Incident.Acknowledged) -> IncidentAcknowledged:
    return IncidentAcknowledged(incident_id=str(e.originator_id), ref=e.ref, by=e.by, at=e.at)


def _page_read(e: Incident.PageRead) -> IncidentPageRead:
    return IncidentPageRead(incident_id=str(e.originator_id), ref=e.ref, person=e.person,
                            delivery_id=e.delivery_id, link_id=e.link_id,
                            acknowledged=e.acknowledged, acknowledged_by=e.acknowledged_by,
                            at=e.at)


def alert_fingerprint(fingerprint: str | None) -> str | None:
    # A declared incident's key (lifecycle.declare) and a storm incident's (triage.py) name
    # no alert: nothing to watch after it.
    return fingerprint if fingerprint and not fingerprint.startswith(("manual:", STORM_PREFIX)) \
        else None


def _resolved(e: Incident.Resolved) -> IncidentResolved:
    return IncidentResolved(
        incident_id=str(e.originator_id), ref=e.ref, severity=e.severity, title=e.title,
        entity=e.entity, by=e.by, summary=e.summary, at=e.at,
        fingerprint=alert_fingerprint(getattr(e, "fingerprint", None)),
        verdict=getattr(e, "verdict", "confirmed"), status=e.status,
        interval_seconds=getattr(e, "interval_seconds", None),
        closing=getattr(e, "closing", "required"),
        observe_seconds=getattr(e, "observe_seconds", None),
        drill=getattr(e, "drill", False))


def _role_assigned(e: Incident.RoleAssigned) -> IncidentRoleAssigned:
    return IncidentRoleAssigned(incident_id=str(e.originator_id), ref=getattr(e, "ref", None),
                                role=e.role, person=e.person, via=getattr(e, "via", "hand"),
                                at=e.at)


def _sla_breached(e: Incident.SlaBreached) -> IncidentSlaBreached:
    return IncidentSlaBreached(incident_id=str(e.originator_id), ref=e.ref, severity=e.severity,
                               kind=e.kind, deadline=e.deadline, at=e.at)


def _closed(e: Incident.Closed) -> IncidentClosed:
    return IncidentClosed(incident_id=str(e.originator_id), ref=e.ref, capa_id=e.capa_id,
                          at=e.at, path=getattr(e, "path", "capa"),
                          note=getattr(e, "note", ""), by=getattr(e, "by", None))


_TABLE = {
    Incident.Opened: _opened,
    Incident.Acknowledged: _acknowledged,
    Incident.PageRead: _page_read,
    Incident.Resolved: _resolved,
    Incident.RoleAssigned: _role_assigned,
    Incident.SlaBreached: _sla_breached,
    Incident.Closed: _closed,
    **STAGE_STEPS,
    **LIFECYCLE_CONTRACTS,
    **SLA_CONTRACTS,
    **CLOSING_CONTRACTS,
    **TIER_CONTRACTS,
    **CADENCE_CONTRACTS,
    **CHECKLIST_CONTRACTS,
}

to_contract = translator(_TABLE)
