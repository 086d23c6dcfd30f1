"""Where an incident sits in the organisation (root → region → store), kept per incident:
capa may not read the notifier's directory, so it keeps the path the notifier published."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared import causation
from shared.bus.consumer import Rejected
from shared.contracts import CloudEvent, IncidentStaffed
from shared.store import Tracking

NAMESPACE = uuid5(NAMESPACE_URL, "https://closedloop/capa/incident-unit")
SYSTEM_ACTOR = "capa"


class IncidentUnit(Aggregate):
    """One per incident; a re-staffing (a severity change) that names the same path adds
    nothing, one that names another path (the directory changed) replaces it."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return uuid5(NAMESPACE, incident_id)

    @event("Started")
    def __init__(self, incident_id: str, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.incident_id = incident_id
        self.unit_path: list[dict[str, str]] = []

    def place(self, unit_path: list[dict[str, str]], at: datetime, actor: str,
              cause: dict[str, Any]) -> bool:
        path = [{"key": u["key"], "name": u.get("name") or u["key"]} for u in unit_path]
        if path == self.unit_path:
            return False
        self._placed(self.incident_id, path, at, actor, cause)
        return True

    @event("Placed")
    def _placed(self, incident_id: str, unit_path: list[dict[str, str]], at: datetime,
                actor: str, cause: dict[str, Any]) -> None:
        self.unit_path = [dict(u) for u in unit_path]


def unit_path_of(app: Any, incident_id: str) -> list[dict[str, str]]:
    found = app.get_or_none(IncidentUnit.create_id(incident_id))
    return [dict(u) for u in found.unit_path] if found is not None else []


def on_staffed(app: Any) -> Any:
    def handle(envelope: CloudEvent, contract: IncidentStaffed, tracking: Tracking) -> None:
        if not contract.incident_id.strip():
            raise Rejected("IncidentStaffed without an incident_id names no incident")
        path = [u for u in contract.unit_path if (u.get("key") or "").strip()]
        at, cause = app.clock.now(), causation.from_message(envelope)
        unit = app.get_or_none(IncidentUnit.create_id(contract.incident_id))
        if unit is None:
            if not path:  # an entity in no unit: nothing to keep
                app.save_tracked(tracking=tracking)
                return
            unit = IncidentUnit(incident_id=contract.incident_id, at=at, actor=SYSTEM_ACTOR,
                                cause=cause)
        changed = unit.place(path, at, SYSTEM_ACTOR, cause)
        app.save_tracked(*([unit] if changed else []), tracking=tracking)
    return handle
