"""An acknowledgement the notifier found lapsed (a re-trigger) can be given again: the
incident keeps its first response time, and the timeline says who was reminded."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from shared.contracts import EscalationTriggered
from tests.harness import RESPONDER_KEY, wait_until
from tests.integration.test_incidents_service import (  # noqa: F401 (fixtures)
    alert, listed, publish, service,
)

pytestmark = pytest.mark.integration


def test_a_lapsed_acknowledgement_can_be_given_again(service, nats_url):
    client = service.client(RESPONDER_KEY)
    publish(nats_url, alert(f"fp-{uuid.uuid4().hex[:8]}"))
    [incident] = wait_until(lambda: listed(client)["items"], message="the incident")
    ref, incident_id = incident["ref"], incident["id"]
    first = client.post(f"/v1/incidents/{ref}/acknowledge", json={"by": "li.na"})
    assert first.status_code == 200, first.text
    acknowledged_at = client.get(f"/v1/incidents/{ref}").json()["acknowledged_at"]
    assert client.post(f"/v1/incidents/{ref}/acknowledge", json={"by": "li.na"}).status_code == 409

    publish(nats_url, EscalationTriggered(
        incident_id=incident_id, ref=ref, step=1, channel_ids=["ch-1"], channel_names=["store"],
        waited_seconds=1800, reason="escalation.retrigger1", people=["li.na"],
        at=datetime.now(timezone.utc)))
    timeline = wait_until(
        lambda: [e for e in client.get(f"/v1/incidents/{ref}/timeline").json()
                 if e["action"] == "escalated"], message="the reminder on the timeline")
    assert timeline[0]["detail"] == ("acknowledged but still not resolved after 30 min: reminder "
                                     "to li.na via 'store'; the escalation resumes")

    again = client.post(f"/v1/incidents/{ref}/acknowledge", json={"by": "li.na"})
    assert again.status_code == 200, again.text
    assert client.get(f"/v1/incidents/{ref}").json()["acknowledged_at"] == acknowledged_at
    assert client.post(f"/v1/incidents/{ref}/acknowledge", json={"by": "li.na"}).status_code == 409
