"""The alerts capa heard raised, one aggregate each: the detector's public AlertRaised is all
capa may know of other entities, and 举一反三 needs where a rule fired, on what, and when."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared import causation
from shared.contracts import AlertRaised, CloudEvent

NAMESPACE = uuid5(NAMESPACE_URL, "https://closedloop/capa/alert-sighting")
SYSTEM_ACTOR = "capa"


class AlertSighting(Aggregate):
    """Never changes after it is heard: a re-delivered AlertRaised finds it and adds nothing."""

    @staticmethod
    def create_id(alert_id: str) -> UUID:
        return uuid5(NAMESPACE, alert_id)

    @event("Heard")
    def __init__(self, alert_id: str, fingerprint: str, rule: str, name: str, entity: str,
                 labels: dict[str, str], severity: str, started_at: datetime, at: datetime,
                 actor: str, cause: dict[str, Any]) -> None:
        self.alert_id, self.fingerprint, self.rule, self.name = alert_id, fingerprint, rule, name
        self.entity, self.labels, self.severity = entity, dict(labels), severity
        self.started_at = started_at


def sighting_of(app: Any, envelope: CloudEvent, contract: AlertRaised) -> list[AlertSighting]:
    """The alert's sighting to save, or [] when known already or not worth keeping: a rule in
    trial (内部试运行) is not trusted yet, so it puts no peer at risk."""
    if contract.trial or not contract.alert_id.strip() or not contract.entity.strip():
        return []
    if app.get_or_none(AlertSighting.create_id(contract.alert_id)) is not None:
        return []
    return [AlertSighting(
        alert_id=contract.alert_id, fingerprint=contract.fingerprint,
        rule=contract.rule_id or contract.name, name=contract.name, entity=contract.entity,
        labels=dict(contract.labels), severity=contract.severity,
        started_at=contract.started_at, at=app.clock.now(), actor=SYSTEM_ACTOR,
        cause=causation.from_message(envelope))]
