"""The incidents service hears CapaRecurred: the returning incident, analysed in the older
reopened case, says so on its timeline and closes when that case closes (it has no case of
its own to close it). Real NATS JetStream and PostgreSQL."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from shared.contracts import CapaClosed, CapaOpened, CapaRecurred, IncidentClosed
from tests.harness import RESPONDER_KEY, wait_until
from tests.integration.test_incidents_service import (  # noqa: F401 (fixture)
    alert, handled, publish, published, service,
)

pytestmark = pytest.mark.integration


def test_a_returning_incident_follows_the_reopened_case_to_its_closure(service, nats_url):
    client = service.client(RESPONDER_KEY)
    fingerprint = f"fp-{uuid.uuid4().hex[:8]}"

    def open_one(skip: set[str]) -> dict:
        publish(nats_url, alert(fingerprint))
        return wait_until(lambda: next((i for i in client.get("/v1/incidents").json()["items"]
                                        if i["id"] not in skip and i["status"] != "closed"),
                                       None), message="the incident")

    # The first incident's case closes it.
    old = open_one(set())
    assert client.post(f"/v1/incidents/{old['ref']}/resolve", json={
        "by": "alice", "summary": "grew the pool"}).status_code == 200
    case, now = str(uuid.uuid4()), datetime.now(timezone.utc)
    publish(nats_url, CapaOpened(capa_id=case, incident_id=old["id"], ref=old["ref"],
                                 title="checkout latency", at=now))
    publish(nats_url, CapaClosed(capa_id=case, incident_id=old["id"], ref=old["ref"],
                                 root_cause="pool too small", actions=1, at=now))
    wait_until(lambda: client.get(f"/v1/incidents/{old['ref']}").json()["status"] == "closed",
               message="the first incident closed")

    # It returns: a new incident, and capa reopens the old case for it.
    new = open_one({old["id"]})
    recurred = CapaRecurred(
        capa_id=case, incident_id=old["id"], ref=old["ref"], fingerprint=fingerprint,
        entity="store-42", recurrence_incident_id=new["id"], recurrence_ref=new["ref"],
        closed_at=now, recurred_at=now, after_seconds=60.0,
        reason=f"'checkout_latency_p99' on store-42 returned 1 min after {old['ref']} closed",
        at=now)
    publish(nats_url, recurred)
    seq = publish(nats_url, recurred)  # a second copy links nothing twice

    wait_until(lambda: handled(nats_url, "CAPA", seq), message="both copies handled")
    timeline = client.get(f"/v1/incidents/{new['ref']}/timeline").json()
    [link] = [e for e in timeline if e["action"] == "analysed in an earlier case"]
    assert f"its analysis continues in CAPA case {case} of {old['ref']}" in link["detail"]
    assert link["actor"] == "capa"
    resolved = client.post(f"/v1/incidents/{new['ref']}/resolve", json={
        "by": "bob", "summary": "pool grown again"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "planning"

    # The reopened case closes (its own incident stays closed): the returning one closes too.
    publish(nats_url, CapaClosed(capa_id=case, incident_id=old["id"], ref=old["ref"],
                                 root_cause="pool sized without the peak forecast", actions=2,
                                 at=datetime.now(timezone.utc)))
    wait_until(lambda: client.get(f"/v1/incidents/{new['ref']}").json()["status"] == "closed",
               message="the returning incident closed with the case")
    [closed] = wait_until(lambda: published(nats_url, IncidentClosed, new["id"]),
                          message="IncidentClosed for the returning incident")
    assert closed["capa_id"] == case
    assert len(published(nats_url, IncidentClosed, old["id"])) == 1
    detail = {e["action"]: e["detail"] for e in
              client.get(f"/v1/incidents/{new['ref']}/timeline").json()}
    assert "root cause 'pool sized without the peak forecast'" in detail["closed"]
