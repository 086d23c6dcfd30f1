"""Two notifier replicas on one event store: each keeps the configuration in memory, and a
change saved by one is seen by the other's next decision (its version check finds it)."""
from __future__ import annotations

import uuid

import pytest

from services.notifier.app import NotifierApplication
from services.notifier.attempts import Due
from services.notifier.channels import EgressPolicy
from services.notifier.domain import Delivery, DeliveryStatus
from shared.clock import ManualClock
from shared.store import Tracking
from tests.unit.test_notifier_domain import CAUSE, SEALER, T0, opened, setup_routing
from tests.integration.test_applications_on_postgres import store_env  # noqa: F401

pytestmark = pytest.mark.integration


def replica(store_env) -> NotifierApplication:
    return NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=EgressPolicy())


def test_a_change_saved_by_another_replica_is_seen_by_the_next_decision(store_env):
    a, b = replica(store_env), replica(store_env)
    oncall, _ = setup_routing(a)
    a.handle_incident_opened(*opened("inc-r1", seq=1))  # a's configuration is now in memory
    [policy] = b.config_cache.current()[0].policies()

    b.update_policy(policy.id, changes={"severities": ["P1"]}, actor="mgr", cause=CAUSE)
    envelope, contract, tracking = opened("inc-r2", seq=2)  # P0: no longer covered
    a.handle_incident_opened(envelope, contract, tracking)
    assert a.get_or_none(Delivery.create_id("inc-r2", "incident.opened", oncall)) is None

    b.update_channel(uuid.UUID(oncall), enabled=False, why="maintenance", actor="mgr",
                     cause=CAUSE)
    first = Delivery.create_id("inc-r1", "incident.opened", oncall)
    assert a.claim_attempts([Due(first, "pending", 0)], T0) == []  # skipped, not sent
    assert a.repository.get(first).status is DeliveryStatus.SKIPPED
    assert a.already_processed(Tracking("INCIDENTS", 2))
