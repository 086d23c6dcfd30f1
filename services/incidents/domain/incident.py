"""The incident: P0–P3 with SLA clocks, carried from 新建 to 已闭环 by people (acknowledge,
resolve) and by the CAPA case (verify, close). One base class per use case holds its
commands and events; this module opens the incident and assembles them."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.incidents.domain.acknowledgement import IncidentAcknowledgement
from services.incidents.domain.alerts import IncidentAlerts
from services.incidents.domain.cadence import IncidentCadence
from services.incidents.domain.capa import IncidentCapa
from services.incidents.domain.checklist import IncidentChecklist
from services.incidents.domain.closing import IncidentClosing
from services.incidents.domain.core import share_events
from services.incidents.domain.grading import IncidentGrading
from services.incidents.domain.holds import IncidentHolds
from services.incidents.domain.ids import NAMESPACE
from services.incidents.domain.intake import IncidentIntake
from services.incidents.domain.lifecycle import IncidentLifecycle
from services.incidents.domain.notifications import RETRIGGER, IncidentNotifications
from services.incidents.domain.planning import IncidentPlanning
from services.incidents.domain.raci import IncidentRaci
from services.incidents.domain.recurrence import IncidentRecurrence
from services.incidents.domain.resolution import IncidentResolution
from services.incidents.domain.sla import IncidentSla, SlaClocks, incident_type
from services.incidents.domain.storm import IncidentStorm
from services.incidents.domain.tiers import IncidentTiers
from services.incidents.domain.vocabulary import SLA, RaciRole, Severity, Sla, Status

__all__ = ["Incident", "RETRIGGER", "SLA", "RaciRole", "Severity", "Sla", "Status"]


class Incident(IncidentAlerts, IncidentAcknowledgement, IncidentResolution, IncidentRaci,
               IncidentSla, IncidentNotifications, IncidentHolds, IncidentCapa,
               IncidentLifecycle, IncidentRecurrence, IncidentGrading, IncidentStorm,
               IncidentClosing, IncidentIntake, IncidentTiers, IncidentChecklist,
               IncidentPlanning, IncidentCadence):
    """One incident per fingerprint occurrence; the id is derived from both so a redelivered
    alert reaches the same incident."""

    @staticmethod
    def create_id(fingerprint: str, occurrence: int) -> UUID:
        return uuid5(NAMESPACE, f"{fingerprint}:{occurrence}")

    @classmethod
    def open(cls, *, fingerprint: str, occurrence: int, ref: str, severity: Severity, title: str,
             entity: str, alert: dict[str, Any], at: datetime, actor: str,
             cause: dict[str, Any], clocks: SlaClocks | None = None) -> "Incident":
        """`clocks`: the deadlines the SLA policy sets (the shipped defaults without)."""
        if clocks is None:
            sla = SLA[severity]
            clocks = SlaClocks(at + sla.respond, at + sla.resolve)
        return cls(fingerprint=fingerprint, occurrence=occurrence, ref=ref,
                   severity=str(severity), title=title, entity=entity, alert=alert,
                   respond_by=clocks.respond_by, resolve_by=clocks.resolve_by,
                   at=at, actor=actor, cause=cause, **clocks.extra())

    @event("Opened")
    def __init__(self, fingerprint: str, occurrence: int, ref: str, severity: str, title: str,
                 entity: str, alert: dict[str, Any], respond_by: datetime, resolve_by: datetime,
                 at: datetime, actor: str, cause: dict[str, Any],
                 at_risk: dict[str, datetime] | None = None, policy: str | None = None) -> None:
        self.fingerprint, self.occurrence, self.ref = fingerprint, occurrence, ref
        self.severity = Severity(severity)
        self.title, self.entity = title, entity
        self.status = Status.NEW
        self.alert_ids: list[str] = [alert["alert_id"]]
        self.intake = alert.get("intake")  # declared by hand: source, report, classification
        # How often the alert's rule evaluates: capa sizes the effectiveness window by it.
        self.interval_seconds: float | None = alert.get("interval_seconds")
        self.cleared_alert_ids: list[str] = []
        self.opened_at, self.respond_by, self.resolve_by = at, respond_by, resolve_by
        self.acknowledged_at: datetime | None = None
        self.acknowledged_by: str | None = None
        self.ack_lapsed = False  # the notifier re-triggered: it may be acknowledged again
        self.resolved_at: datetime | None = None
        self.resolved_by: str | None = None
        self.resolution = ""
        self.capa_id: str | None = None
        self.notification_keys: list[str] = []
        self.escalation_steps: list[int] = []
        self.escalation_reasons: list[str] = []  # a repeated ladder fires a step again
        self.staffed = False
        self.verified_action_ids: list[str] = []
        self.capa_steps: list[str] = []
        self.sla_breaches: list[str] = []  # "respond", "resolve", "close"
        self.at_risk_by = dict(at_risk or {})
        self.sla_policy, self.sla_type = policy, incident_type(alert)
        self.raci: dict[RaciRole, list[str]] = {role: [] for role in RaciRole}
        self.root_cause: str | None = None
        self.closed_at: datetime | None = None
        self.archived_at: datetime | None = None
        self.used_links: dict[str, datetime] = {}  # one-click link id → when it was used
        # An exercise declared as such (closing.py): shown as a drill, out of every KPI.
        self.drill = bool(alert.get("drill", False))
        self.drill_reason = alert.get("drill_reason")


share_events(Incident)
