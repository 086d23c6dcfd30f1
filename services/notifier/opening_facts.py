"""The incident as an opening tells it to the notifier: what its aggregates keep of it, the
facts its messages show (what was measured against which threshold, since when, the SLA)
and the policies that page for it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifier.domain import EscalationPolicy
from services.notifier.raci.opening import StaffedOpening
from shared.contracts import IncidentOpened


def paging(policies: list[EscalationPolicy]) -> list[EscalationPolicy]:
    """The policies that page and escalate (not digest ones)."""
    return [p for p in policies if not p.digests]


def sla_of(contract: IncidentOpened) -> dict[str, float]:
    """The time the incident had to be acknowledged and resolved, in seconds from its
    opening: a held incident is given the same once its hold is released."""
    return {kind: (due - contract.opened_at).total_seconds()
            for kind, due in (("respond", contract.respond_by), ("resolve", contract.resolve_by))}


def incident_of(contract: IncidentOpened) -> dict[str, Any]:
    """The incident as the notifier's aggregates keep it, with the opening's facts that
    messages show (what was measured against which threshold, since when, the SLA)."""
    return {"incident_id": contract.incident_id, "ref": contract.ref,
            "severity": contract.severity, "title": contract.title, "entity": contract.entity,
            "facts": facts_of(contract)}


def with_responsible(incident: dict[str, Any], staffed: StaffedOpening) -> dict[str, Any]:
    """The incident with its Responsible at the opening among its facts, and the unit its
    entity was placed in when it was staffed, for the messages."""
    if staffed.staffing is None or incident.get("facts") is None:
        return incident
    unit = (getattr(staffed.staffing, "facts", None) or {}).get("unit")
    return {**incident, "facts": {**incident["facts"],
                                  "responsible": list(staffed.staffing.responsible),
                                  **({"unit": unit} if unit else {})}}


def facts_of(contract: IncidentOpened) -> dict[str, Any]:
    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at is not None else None
    return {"metric": getattr(contract, "metric", None), "value": getattr(contract, "value", None),
            "threshold": getattr(contract, "threshold", None),
            "firing_since": iso(getattr(contract, "firing_since", None)),
            "opened_at": iso(contract.opened_at), "respond_by": iso(contract.respond_by),
            "resolve_by": iso(contract.resolve_by),
            # The facts travel with every message about it: a drill's are all marked
            # (messages/drill.py); a real incident's facts keep their shape.
            **({"drill": True} if getattr(contract, "drill", False) else {})}
