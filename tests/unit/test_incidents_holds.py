"""The incident's side of quiet rules and trial mode: IncidentOpened carries the alert's
labels and trial flag for the notifier, and what the notifier held and released shows on
the timeline, once each."""
from __future__ import annotations

from datetime import timedelta

from shared.contracts import AlertRaised, IncidentOpened, NotificationsHeld, NotificationsReleased
from services.incidents.translate import to_contract
from tests.unit.test_incidents_domain import T0, feed  # noqa: F401


def raise_trial_alert(feed) -> None:
    feed.send(feed.app.handle_alert_raised, AlertRaised(
        alert_id="a-1", fingerprint="fp-1", source="rule", name="NpsCollapse",
        entity="store-42", labels={"store": "sz-baoan", "severity": "critical"},
        severity="P1", started_at=T0, trial=True))


def opened_contract(feed) -> IncidentOpened:
    for n in feed.app.recorder.select_notifications(1, 100):
        contract = to_contract(feed.app.decode(n))
        if isinstance(contract, IncidentOpened):
            return contract
    raise AssertionError("no IncidentOpened")


def test_the_opened_incident_carries_labels_for_routing_and_the_trial_flag(feed):
    raise_trial_alert(feed)
    contract = opened_contract(feed)
    assert contract.trial is True
    assert contract.labels == {"store": "sz-baoan", "alertname": "NpsCollapse",
                               "entity": "store-42", "severity": "P1"}  # the incident's level


def test_held_and_released_notifications_show_on_the_timeline_once_each(feed):
    feed.raise_alert("a-1")
    incident_id = next(iter(feed.incident_ids()))
    held = NotificationsHeld(incident_id=incident_id, ref="P0-2026-11-001", kind="silence",
                             hold_id="s-1", name="store refit",
                             until=T0 + timedelta(minutes=30), at=T0)
    feed.send(feed.app.handle_notifications_held, held)
    feed.send(feed.app.handle_notifications_held, held)  # sent again: nothing new
    feed.send(feed.app.handle_notifications_released, NotificationsReleased(
        incident_id=incident_id, ref="P0-2026-11-001", kind="silence", hold_id="s-1",
        name="store refit", held_seconds=1800, policies=["critical"],
        at=T0 + timedelta(minutes=30)))
    timeline = feed.app.incident("P0-2026-11-001")["timeline"]
    assert [e["action"] for e in timeline] == ["opened", "notifications held",
                                               "notifications released"]
    assert timeline[1]["detail"] == (
        "notifications held by silence 'store refit' (s-1) until 2026-11-02 09:30 UTC: "
        "nobody is notified while it holds")
    assert "after 30 min and it is still open" in timeline[2]["detail"]
    assert "escalation (critical) starts from here" in timeline[2]["detail"]


def test_trial_and_inhibition_read_as_what_they_are(feed):
    feed.raise_alert("a-1")
    incident_id = next(iter(feed.incident_ids()))
    feed.send(feed.app.handle_notifications_held, NotificationsHeld(
        incident_id=incident_id, ref="P0-2026-11-001", kind="inhibition", hold_id="r-1",
        name="store-down", source_ref="P1-2026-11-004", at=T0))
    feed.send(feed.app.handle_notifications_held, NotificationsHeld(
        incident_id=incident_id, ref="P0-2026-11-001", kind="trial",
        name="trial mode (内部试运行)", at=T0))
    details = [e["detail"] for e in feed.app.incident("P0-2026-11-001")["timeline"][1:]]
    assert details == [
        "notifications held by inhibition rule 'store-down' (r-1) while P1-2026-11-004 is open",
        "raised by a rule in trial mode (内部试运行): recorded here, nobody is notified"]
