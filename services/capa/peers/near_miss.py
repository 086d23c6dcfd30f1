"""The near misses capa heard (RuleNearMiss): a rule's value came within its band of the
threshold on an entity without firing. 举一反三 lists such peers as at risk; the detector's
public event is all capa may know of them."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from shared import causation
from shared.contracts import CloudEvent, RuleNearMiss
from shared.store import Tracking

NAMESPACE = uuid5(NAMESPACE_URL, "https://closedloop/capa/near-miss-sighting")
SYSTEM_ACTOR = "capa"


class NearMissSighting(Aggregate):
    """One per entry into the band (fingerprint × time): never changes once heard, so a
    redelivery finds it and adds nothing."""

    @staticmethod
    def create_id(fingerprint: str, observed_at: datetime) -> UUID:
        return uuid5(NAMESPACE, f"{fingerprint}@{observed_at.isoformat()}")

    @event("Heard")
    def __init__(self, fingerprint: str, rule_id: str, name: str, metric: str, entity: str,
                 labels: dict[str, str], bound: str, threshold: float, value: float,
                 observed_at: datetime, at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        self.fingerprint, self.rule_id, self.name = fingerprint, rule_id, name
        self.entity, self.observed_at = entity, observed_at


def on_near_miss(app: Any) -> Any:
    def handle(envelope: CloudEvent, contract: RuleNearMiss, tracking: Tracking) -> None:
        # A rule in trial is not trusted yet: it puts no peer at risk (as its alerts do not).
        sighting_id = NearMissSighting.create_id(contract.fingerprint, contract.observed_at)
        if (contract.trial or not contract.entity.strip()
                or app.get_or_none(sighting_id) is not None):
            app.save_tracked(tracking=tracking)
            return
        app.save_tracked(NearMissSighting(
            fingerprint=contract.fingerprint, rule_id=contract.rule_id, name=contract.name,
            metric=contract.metric, entity=contract.entity, labels=dict(contract.labels),
            bound=contract.bound, threshold=contract.threshold, value=contract.value,
            observed_at=contract.observed_at, at=app.clock.now(), actor=SYSTEM_ACTOR,
            cause=causation.from_message(envelope)), tracking=tracking)
    return handle
