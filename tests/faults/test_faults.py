"""Kill or stop each part of a running installation under steady alert load, bring it back,
and prove nothing accepted was lost or done twice: one incident per alert, every notification
received (duplicates counted), each escalation timer fired once, a CAPA case per resolved
incident, and an empty dead-letter stream."""
from __future__ import annotations

import pytest

from tests.faults.scenario import Fault, Load, run

pytestmark = pytest.mark.faults

DOWN_BRIEFLY = 3.0  # a killed part stays down long enough for the load to be refused
HELD_DOWN = 30.0

FAULTS = [
    Fault("kill-detector", "detector", kill=True, down_seconds=DOWN_BRIEFLY),
    Fault("kill-incidents", "incidents", kill=True, down_seconds=DOWN_BRIEFLY),
    Fault("kill-notifier", "notifier", kill=True, down_seconds=DOWN_BRIEFLY),
    Fault("kill-capa", "capa", kill=True, down_seconds=DOWN_BRIEFLY),
    Fault("kill-nats", "nats", kill=True, down_seconds=DOWN_BRIEFLY),
    Fault("kill-postgres", "postgres", kill=True, down_seconds=DOWN_BRIEFLY),
    Fault("postgres-down-30s", "postgres", kill=False, down_seconds=HELD_DOWN),
    Fault("nats-down-30s", "nats", kill=False, down_seconds=HELD_DOWN),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_nothing_accepted_is_lost_or_done_twice(fault, result, logs):
    load = Load()
    result.alerts = load.alerts
    run(fault, load, logs, result)
