"""An alert acknowledged at its sender (PagerDuty) acknowledges its open incident once; a
redelivery, an incident acknowledged already or resolved, or an alert that opened none record
nothing and raise nothing (the application on in-memory persistence)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.contracts import AlertAcknowledged

from services.incidents.domain import Incident
from tests.unit.test_incidents_triage import Feed

BY = "pagerduty:pos-monitoring"


def acknowledge(feed: Feed, rule: str = "PosDown", occurrence: int = 1) -> None:
    feed.send(feed.app.handle_alert_acknowledged, AlertAcknowledged(
        alert_id=f"{rule}-深圳宝安店-{occurrence}", fingerprint=f"{rule}-深圳宝安店",
        source="pagerduty", by=BY, acknowledged_at=feed.clock.now()))


def acknowledgements(feed: Feed) -> list:
    return [e for e in feed.events() if isinstance(e, Incident.Acknowledged)]


@pytest.fixture
def feed(store_env):
    return Feed(store_env)


def test_it_acknowledges_the_open_incident_as_the_integration_once(feed):
    feed.fire("PosDown", "P0")
    feed.clock.advance(timedelta(minutes=2))
    acknowledge(feed)
    acknowledge(feed)  # redelivered: nothing more
    (ack,) = acknowledgements(feed)
    (opened,) = feed.opened()
    incident = feed.app.repository.get(opened.originator_id)
    assert (ack.by, ack.actor) == (BY, BY)
    assert "pagerduty" in ack.note and "PosDown-深圳宝安店-1" in ack.note
    assert (incident.acknowledged_by, incident.status) == (BY, "investigating")
    assert incident.acknowledged_at == feed.clock.now()
    assert not any(isinstance(e, Incident.RoleAssigned) for e in feed.events())  # nobody to page
    # Each delivery was tracked, the ignored one too: a restart does not read them again.
    assert feed.app.recorder.max_tracking_id("DETECTOR") == feed.sequence


def test_an_incident_acknowledged_by_hand_first_is_left_as_it_is(feed):
    feed.fire("PosDown", "P0")
    (opened,) = feed.opened()
    feed.app.acknowledge(str(opened.originator_id), "li.wei", "on it", {})
    acknowledge(feed)
    (ack,) = acknowledgements(feed)
    assert ack.by == "li.wei"


def test_a_resolved_incident_or_an_unknown_alert_records_nothing(feed):
    acknowledge(feed, rule="Never")  # no incident: no error, nothing stored
    feed.fire("PosDown", "P0")
    (opened,) = feed.opened()
    feed.app.resolve(str(opened.originator_id), "li.wei", "restarted the router", {})
    before = acknowledgements(feed)  # resolving acknowledges as the resolver
    acknowledge(feed)
    assert acknowledgements(feed) == before and all(a.by != BY for a in before)
    assert feed.app.recorder.max_tracking_id("DETECTOR") == feed.sequence

