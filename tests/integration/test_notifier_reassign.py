"""People reassigned by hand on an open incident: the notifier follows. The new Responsible
is told they hold it and is the one warned when the response runs late; the Accountable
named by hand is the one told at the deadline; who takes the incident by acknowledging it
is not told what they just did. Real NATS and PostgreSQL; the clock is a ManualClock."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.contracts import IncidentRoleAssigned
from tests.harness import MANAGER_KEY, VIEWER_KEY, wait_until
from tests.integration.test_notifier_raci import deadline, store_network, told
from tests.integration.test_notifier_service import (  # noqa: F401 (fixtures)
    WAIT, clock, incident_opened, notifier, publish, receiver,
)

pytestmark = pytest.mark.integration


def staffing(notifier, incident_id: str) -> dict:
    with notifier.client(VIEWER_KEY) as viewer:
        return viewer.get(f"/v1/staffings/{incident_id}").json()


def test_a_responsible_reassigned_by_hand_is_told_and_chased_instead_of_the_matrix_people(
        notifier, receiver, nats_url, clock):
    store_network(notifier, receiver)
    with notifier.client(MANAGER_KEY) as manager:
        added = manager.post("/v1/people", json={
            "handle": "sun.hao", "name": "孙浩", "contacts": [
                {"medium": "chat", "address": "@sun.hao", "channel": "im-gateway"}]})
        assert added.status_code == 201, added.text
    incident = incident_opened(clock).model_copy(update={"entity": "store-017"})
    iid = incident.incident_id
    publish(nats_url, incident)
    wait_until(lambda: deadline(notifier, iid, "respond"), WAIT, "the incident's deadlines")
    assert staffing(notifier, iid)["responsible"] == ["zhou.min", "li.na"]

    def assigned(role: str, person: str, via: str = "hand") -> None:
        publish(nats_url, IncidentRoleAssigned(incident_id=iid, ref=incident.ref, role=role,
                                               person=person, via=via, at=clock.now()))

    assigned("responsible", "sun.hao")
    assigned("accountable", "wang.jianguo")
    assigned("informed", "zhou.min", via="acknowledged")
    wait_until(lambda: staffing(notifier, iid)["informed"] == ["wang.jianguo", "zhou.min"],
               WAIT, "the staffing following the assignments")
    now = staffing(notifier, iid)
    assert now["responsible"] == ["sun.hao"] and now["accountable"] == ["wang.jianguo"]
    wait_until(lambda: len(told(receiver, iid, "raci.assigned")) == 2, WAIT, "the new people")
    assert told(receiver, iid, "raci.assigned") == [
        ("raci.assigned.accountable", "wang.jianguo"), ("raci.assigned.responsible", "sun.hao")]

    clock.advance(timedelta(minutes=12))  # 80% of the quarter hour to respond
    wait_until(lambda: told(receiver, iid, "late.respond"), WAIT, "the warning")
    clock.advance(timedelta(minutes=3))  # the deadline
    wait_until(lambda: len(told(receiver, iid, "late.respond")) == 2, WAIT, "the Accountable")
    assert told(receiver, iid, "late.respond") == [
        ("late.respond.deadline", "wang.jianguo"), ("late.respond.warning", "sun.hao")]
    # The same assignment again (a redelivery, or a repeated click) records nothing new.
    assigned("responsible", "sun.hao")
    assigned("accountable", "zhao.lei")
    wait_until(lambda: staffing(notifier, iid)["accountable"] == ["zhao.lei"], WAIT,
               "the later assignment")
    assert len(told(receiver, iid, "raci.assigned.responsible")) == 1
