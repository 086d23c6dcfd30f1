"""Incident refs issued by the store with each incident: consecutive inside a consumer's batch,
never lost to a failed batch, and continuing where an earlier release's RefCounter left off
(whose refs still resolve). Re-run on PostgreSQL by tests/integration."""
from __future__ import annotations

import pytest

from services.incidents.domain import (
    FingerprintLink, Incident, RefCounter, RefIndex, Severity, format_ref, parse_ref,
)
from tests.unit.test_incidents_domain import CAUSE, T0, Feed, feed  # noqa: F401 (fixture)


def saves(feed: Feed) -> list[int]:
    """Counts the application's writes to its store (one per transaction)."""
    calls: list[int] = []
    insert = feed.app.recorder.insert_events

    def counting(stored_events, **kwargs):
        calls.append(len(stored_events))
        return insert(stored_events, **kwargs)

    feed.app.recorder.insert_events = counting
    return calls


def refs(feed: Feed) -> list[str]:
    return sorted(feed.app.incident(i)["ref"] for i in feed.incident_ids())


def test_a_batch_of_alerts_of_one_severity_is_saved_once_with_consecutive_refs(feed):
    written = saves(feed)

    def one_batch() -> None:
        for n in range(1, 6):
            feed.raise_alert(f"a-{n}", fingerprint=f"fp-{n}", severity="P1")
        feed.raise_alert("a-2", fingerprint="fp-2", severity="P1")  # re-sent in the same batch
        feed.raise_alert("a-2b", fingerprint="fp-2", severity="P1")  # fp-2 fires again
        feed.raise_alert("b-1", fingerprint="fp-9", severity="P3")

    feed.app.save_batch(one_batch)
    assert len(written) == 1  # one transaction for the eight messages
    assert refs(feed) == [f"P1-2026-11-00{n}" for n in range(1, 6)] + ["P3-2026-11-001"]
    second = feed.app.incident("P1-2026-11-002")
    assert second["alert_ids"] == ["a-2", "a-2b"]


def test_a_new_incident_stores_three_events_and_its_number(feed):
    written = saves(feed)
    feed.raise_alert("a-1", fingerprint="fp-1", severity="P2")
    # the link started with its incident, the incident, and when its first update is due
    assert written == [3]
    [incident_id] = feed.incident_ids()
    assert str(feed.app.number_owner("P2-2026-11", 1)) == incident_id
    link = feed.app.repository.get(FingerprintLink.create_id("fp-1"))
    assert (link.occurrences, str(link.current_incident_id), link.version) == (1, incident_id, 1)


def test_a_link_an_earlier_release_stored_in_two_events_still_loads_and_links_on(feed):
    october = Incident.open(
        fingerprint="fp-old", occurrence=1, ref="P1-2026-10-001", severity=Severity.P1,
        title="t", entity="store-1", alert={"alert_id": "a-1"}, at=T0, actor="detector",
        cause=CAUSE)
    link = FingerprintLink(fingerprint="fp-old", at=T0, actor="detector", cause=CAUSE)
    link.link(october.id, T0, "detector", CAUSE)
    feed.app.save(link, october)
    loaded = feed.app.repository.get(link.id)
    assert (loaded.occurrences, loaded.current_incident_id, loaded.version) == (1, october.id, 2)

    # P1 needs a CAPA case: the next firing is a new outage (a P2 would be under observation).
    feed.app.resolve(str(october.id), "alice", "restarted", CAUSE)
    feed.raise_alert("a-2", fingerprint="fp-old", severity="P1")  # a new outage
    assert feed.app.repository.get(link.id).occurrences == 2
    assert feed.app.incident("P1-2026-11-001")["occurrence"] == 2


def test_a_batch_that_fails_issues_no_ref_and_leaves_no_gap(feed):
    def fails_at_the_end() -> None:
        for n in range(1, 4):
            feed.raise_alert(f"a-{n}", fingerprint=f"fp-{n}", severity="P1")
        raise ConnectionError("the database went away before the commit")

    with pytest.raises(ConnectionError):
        feed.app.save_batch(fails_at_the_end)
    assert feed.incident_ids() == set()
    feed.raise_alert("a-1", fingerprint="fp-1", severity="P1")  # handled again, one by one
    assert refs(feed) == ["P1-2026-11-001"]


def test_refs_continue_after_those_an_earlier_release_issued_which_still_resolve(feed):
    # What a release with RefCounter and RefIndex stored for its two P0 incidents of November.
    counter = RefCounter(severity="P0", month="2026-11", at=T0, actor="detector", cause=CAUSE)
    earlier = []
    for n in (1, 2):
        counter.issue(T0, "detector", CAUSE)
        ref = format_ref(Severity.P0, T0, counter.last)
        incident = Incident.open(
            fingerprint=f"old-{n}", occurrence=1, ref=ref, severity=Severity.P0, title="t",
            entity="store-1", alert={"alert_id": f"old-{n}"}, at=T0, actor="detector",
            cause=CAUSE)
        link = FingerprintLink(fingerprint=f"old-{n}", at=T0, actor="detector", cause=CAUSE)
        link.link(incident.id, T0, "detector", CAUSE)
        index = RefIndex(ref=ref, incident_id=incident.id, at=T0, actor="detector", cause=CAUSE)
        feed.app.save(link, counter, incident, index)
        earlier.append(str(incident.id))

    feed.raise_alert("new-1", fingerprint="fp-new", severity="P0")
    assert refs(feed) == ["P0-2026-11-001", "P0-2026-11-002", "P0-2026-11-003"]
    assert [feed.app.incident(f"p0-2026-11-00{n}")["id"] for n in (1, 2)] == earlier
    assert feed.app.incident("P0-2026-11-003")["alert_ids"] == ["new-1"]


def test_a_ref_is_read_only_as_it_is_written():
    assert parse_ref("P1-2026-12-007") == ("P1-2026-12", 7)
    assert parse_ref("p1-2026-12-1200") == ("P1-2026-12", 1200)
    assert parse_ref("P1-2026-12-0007") is None  # not a ref this service issued
    assert parse_ref("P1-2026-12-x") is None


def test_a_batch_of_delivery_facts_reads_its_incidents_in_one_go(feed):
    from shared.contracts import NotificationDelivered

    for n in range(1, 4):
        feed.raise_alert(f"a-{n}", fingerprint=f"fp-{n}", severity="P1")
    ids = sorted(feed.incident_ids())
    facts = [NotificationDelivered(
        notification_id=f"n-{i}", incident_id=incident_id, ref="P1", channel_id="c",
        channel_name="robot", reason="incident.opened", attempts=1, status_code=200, at=T0)
        for i, incident_id in enumerate(ids)]
    reads: list[object] = []
    read = feed.app.recorder.select_events

    def counting(*args, **kwargs):
        reads.append(kwargs.get("originator_id", args[:1]))
        return read(*args, **kwargs)

    def one_batch() -> None:
        feed.app.read_ahead_incidents(facts)
        feed.app.recorder.select_events = counting
        for fact in facts:
            feed.send(feed.app.handle_notification_delivered, fact)

    feed.app.save_batch(one_batch)
    feed.app.recorder.select_events = read
    assert reads == []  # every incident came from the one read ahead
    for incident_id in ids:
        assert "notification delivered" in [e["action"] for e in feed.app.timeline(incident_id)]
