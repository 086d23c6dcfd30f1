"""A returning incident analysed in an older, reopened CAPA case follows it: the link is on
its timeline, and it closes with that case — at once when resolved, else on resolution."""
from __future__ import annotations

from datetime import timedelta

from services.incidents.domain import Incident, Status
from services.incidents.domain.recurrence import CaseFollowers
from services.incidents.timeline import timeline_of
from services.incidents.translate import to_contract
from tests.unit.test_incidents_domain import CAUSE, T0, open_incident

REASON = "'checkout_latency' on store-42 returned 3 days after CAPA case c-old closed"


def returning() -> Incident:
    incident = open_incident(ref="P0-2026-11-007")
    assert incident.follow_case("c-old", "P0-2026-11-001", REASON, 3 * 86400.0,
                                T0 + timedelta(minutes=1), "capa", CAUSE)
    return incident


def test_the_link_is_recorded_once_and_told_on_the_timeline():
    incident = returning()
    assert not incident.follow_case("c-old", "P0-2026-11-001", REASON, 3 * 86400.0,
                                    T0 + timedelta(minutes=2), "capa", CAUSE)
    timeline = timeline_of(incident.collect_events())
    [line] = [e for e in timeline if e["action"] == "analysed in an earlier case"]
    assert line["actor"] == "capa"
    assert line["detail"] == (
        f"{REASON}; its analysis continues in CAPA case c-old of P0-2026-11-001, and "
        "P0-2026-11-007 closes when that case closes")


def test_resolved_it_closes_when_the_case_it_follows_closes():
    incident = returning()
    incident.resolve("alice", "restarted the pool", T0 + timedelta(hours=1), "alice", CAUSE)
    assert incident.status is Status.PLANNING
    incident.followed_case_closed("another-case", "x", 1, T0 + timedelta(days=1), "capa", CAUSE)
    assert incident.status is Status.PLANNING  # not the case it follows
    incident.followed_case_closed("c-old", "pool too small", 2, T0 + timedelta(days=9),
                                  "capa", CAUSE)
    assert incident.status is Status.CLOSED and incident.closed_at == T0 + timedelta(days=9)
    closed = to_contract(incident.collect_events()[-1])
    assert (closed.capa_id, closed.ref) == ("c-old", "P0-2026-11-007")


def test_still_open_when_the_case_closes_it_closes_on_resolution():
    incident = returning()
    incident.followed_case_closed("c-old", "pool too small", 2, T0 + timedelta(hours=2),
                                  "capa", CAUSE)
    assert incident.status is Status.NEW  # service not restored: a person still resolves it
    incident.resolve("alice", "restarted the pool", T0 + timedelta(hours=3), "alice", CAUSE)
    assert incident.status is Status.CLOSED
    actions = [e["action"] for e in timeline_of(incident.collect_events())]
    assert actions == ["opened", "analysed in an earlier case", "earlier case closed",
                       "acknowledged", "role assigned", "resolved", "closed"]


def test_the_case_lists_its_followers_once():
    followers = CaseFollowers("c-old")
    followers.add("inc-2")
    followers.add("inc-2")
    followers.add("inc-3")
    assert followers.incident_ids == ["inc-2", "inc-3"]
    assert CaseFollowers.create_id("c-old") == CaseFollowers.create_id("c-old") != (
        CaseFollowers.create_id("c-new"))
