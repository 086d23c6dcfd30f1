"""Digests on PostgreSQL, driven through the application's handlers and the send worker's
command on a ManualClock: P3 incidents over a day reach two people in different time zones
as one digest each at 09:00 on their own clocks, sent once across a restart and two
replicas; a week with a daylight-saving change still sends at 09:00 local, carrying what is
still open; and the weekly variant."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from uuid import UUID

import pytest

from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.digests.aggregate import Digest, DigestSent
from services.notifier.domain import Delivery, Escalation
from services.notifier.domain.cadence import Cadence
from services.notifier.holds.opening import Opening
from shared.clock import ManualClock
from shared.contracts import CloudEvent, IncidentClosed, IncidentOpened, IncidentResolved
from shared.store import IntegrityError, Tracking
from tests.integration.test_applications_on_postgres import store_env  # noqa: F401
from tests.unit.test_notifier_domain import SEALER

pytestmark = pytest.mark.integration

UTC = timezone.utc
WHO = {"actor": "mgr", "cause": {"correlation_id": "c", "causation_id": "m", "trace": {}}}
SECRET = "im-gateway-secret-0123"


class Story:
    """A notifier replica on the shared store, and the messages it is handed."""

    sequence = 0

    def __init__(self, store_env: dict, clock: ManualClock) -> None:
        self.env, self.clock = store_env, clock
        self.app = self.replica()

    def replica(self) -> NotifierApplication:
        return NotifierApplication(self.env, self.clock, sealer=SEALER, egress=EgressPolicy())

    def handle(self, contract, handler: str) -> None:
        Story.sequence += 1
        envelope = CloudEvent(id=f"incidents:{Story.sequence}", source="closedloop/incidents",
                              type=contract.type_name(), time=self.clock.now(),
                              data=contract.model_dump(mode="json"))
        getattr(self.app, handler)(envelope, contract, Tracking("INCIDENTS", Story.sequence))

    def opened(self, n: int, entity: str, severity: str = "P3") -> IncidentOpened:
        now = self.clock.now()
        contract = IncidentOpened(
            incident_id=f"inc-{n}", ref=f"{severity}-2026-10-{n:03d}", fingerprint=f"fp-{n}",
            severity=severity, title=f"冷柜温度偏高 #{n}", entity=entity, alert_id=f"a-{n}",
            opened_at=now, respond_by=now + timedelta(hours=4),
            resolve_by=now + timedelta(days=1))
        self.handle(contract, "handle_incident_opened")
        return contract

    def resolved(self, incident: IncidentOpened) -> None:
        self.handle(IncidentResolved(
            incident_id=incident.incident_id, ref=incident.ref, severity=incident.severity,
            title=incident.title, entity=incident.entity, by="li.na", at=self.clock.now()),
            "handle_incident_resolved")

    def closed(self, incident: IncidentOpened) -> None:
        self.handle(IncidentClosed(incident_id=incident.incident_id, ref=incident.ref,
                                   at=self.clock.now()), "handle_incident_closed")

    def at(self, text: str) -> None:
        target = datetime.fromisoformat(text).replace(tzinfo=UTC)
        assert target >= self.clock.now()
        self.clock.advance(target - self.clock.now())


def organise(app: NotifierApplication, digest: dict, people: dict[str, str]) -> str:
    """A chat gateway, people (handle → time zone) with a contact on it, two stores, and a
    digest policy for P3 naming those people. Returns the gateway's id."""
    gateway = app.register_channel(name="im-gateway", kind="webhook", url="http://im.example/",
                                   secret=SECRET, headers=None, **WHO)["id"]
    for handle, zone in people.items():
        app.add_person(definition={
            "handle": handle, "name": handle.title(), "time_zone": zone,
            "language": "zh" if zone == "Asia/Shanghai" else "en",
            "contacts": [{"medium": "chat", "address": f"@{handle}", "channel": "im-gateway"}]},
            **WHO)
    app.define_unit(definition={"key": "south", "name": "华南战区"}, **WHO)
    for key, name, entity in (("store-017", "深圳宝安店", "fridge-017"),
                              ("store-018", "广州天河店", "fridge-018")):
        app.define_unit(definition={"key": key, "name": name, "parent": "south",
                                    "entities": [entity]}, **WHO)
    app.define_policy(name="p3-digest", severities=["P3"], steps=[
        {"targets": [{"kind": "person", "ref": h} for h in people], "delay_seconds": 600}],
        **digest, **WHO)
    return str(gateway)


def digest_of(app: NotifierApplication, gateway: str, handle: str, every: str, zone: str,
              at: datetime, weekday: str | None = None) -> Digest | None:
    start, _ = Cadence.of(every, "09:00", weekday, zone).period(at)
    return app.get_or_none(Digest.create_id(every, f"{gateway}/{handle}", start))


def sent_message(app: NotifierApplication, digest: Digest) -> Delivery:
    assert digest.sent and digest.delivery_id
    return app.repository.get(UUID(digest.delivery_id))


@pytest.fixture
def clock():
    return ManualClock(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))  # 10:00 Shanghai, Monday


def test_p3_incidents_over_a_day_reach_each_person_once_at_nine_on_their_clock(store_env,
                                                                               clock):
    story = Story(store_env, clock)
    gateway = organise(story.app, {"digest": "daily"},
                       {"li.na": "Asia/Shanghai", "anna": "Europe/Berlin"})
    first = story.opened(1, "fridge-017")
    story.at("2026-11-02T05:00")
    second = story.opened(2, "fridge-017")
    story.opened(3, "fridge-018")
    # 09:00 in Berlin: Anna's digest of the day before (her clock) says what fired so far.
    anna_before = digest_of(story.app, gateway, "anna", "daily", "Europe/Berlin", clock.now())
    story.at("2026-11-02T08:00")
    assert story.app.send_digest(anna_before.id, clock.now()).endswith(
        "3 fired, 3 open, 0 closed")
    story.at("2026-11-02T09:00")
    story.resolved(first)
    story.at("2026-11-02T12:00")
    story.closed(second)  # closed without being resolved first
    story.opened(4, "fridge-999")  # an entity no unit lists
    story.opened(5, "fridge-017", severity="P0")  # no policy covers P0: not in any digest

    # Nobody was paged: no opening message and no escalation timer.
    assert not isinstance(story.app.get_or_none(Escalation.create_id("inc-3")), Escalation)
    assert story.app.get_or_none(Delivery.create_id(
        "inc-1", "incident.opened", gateway,
        {"handle": "li.na"})) is None

    li_na = digest_of(story.app, gateway, "li.na", "daily", "Asia/Shanghai", clock.now())
    anna = digest_of(story.app, gateway, "anna", "daily", "Europe/Berlin", clock.now())
    assert li_na.period_end == datetime(2026, 11, 3, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    assert anna.period_end == datetime(2026, 11, 3, 8, 0, tzinfo=UTC)  # 09:00 Berlin (CET)
    assert set(li_na.items) == {"inc-1", "inc-2", "inc-3", "inc-4"}

    story.at("2026-11-03T00:59")
    with pytest.raises(Exception, match="not due"):
        story.app.send_digest(li_na.id, clock.now())
    story.at("2026-11-03T01:00")
    assert story.app.send_digest(li_na.id, clock.now()).endswith("4 fired, 2 open, 2 closed")
    sent = story.app.get_or_none(li_na.id)
    delivery = sent_message(story.app, sent)
    assert (delivery.reason, delivery.recipient["handle"], delivery.target) == (
        "digest.daily", "li.na", "person:li.na")
    content = delivery.about["digest"]
    assert [i["ref"] for i in content["fired"]] == [
        "P3-2026-10-001", "P3-2026-10-002", "P3-2026-10-003", "P3-2026-10-004"]
    assert [(i["ref"], i["status"]) for i in content["closed"]] == [
        ("P3-2026-10-001", "resolved"), ("P3-2026-10-002", "closed")]
    assert [i["ref"] for i in content["open"]] == ["P3-2026-10-003", "P3-2026-10-004"]
    assert content["units"] == [
        {"unit": "store-017", "name": "深圳宝安店", "fired": 2, "open": 0, "closed": 2},
        {"unit": "store-018", "name": "广州天河店", "fired": 1, "open": 1, "closed": 0},
        {"unit": "-", "name": "-", "fired": 1, "open": 1, "closed": 0}]
    assert content["period"]["end"] == "2026-11-03T09:00"
    assert delivery.about["message"]["subject"].startswith("日报汇总 2026-11-03")

    # A restart: a new application on the same store finds it sent and refuses to send it
    # again; Anna's is not due before 09:00 in Berlin.
    restarted = story.replica()
    with pytest.raises(DigestSent):
        restarted.send_digest(li_na.id, clock.now())
    with pytest.raises(Exception, match="not due"):
        restarted.send_digest(anna.id, clock.now())
    story.at("2026-11-03T08:00")
    # Her second digest: what fired since her last one, what ended since (though it fired
    # in her previous period), and what is still open from either.
    assert restarted.send_digest(anna.id, clock.now()).endswith("1 fired, 2 open, 2 closed")
    english = sent_message(restarted, restarted.get_or_none(anna.id)).about
    assert english["message"]["subject"].startswith("Daily digest 2026-11-03")
    assert [i["ref"] for i in english["digest"]["open"]] == ["P3-2026-10-003",
                                                             "P3-2026-10-004"]

    # What is still open reappears in the next day's digest; nothing else does.
    following = digest_of(restarted, gateway, "li.na", "daily", "Asia/Shanghai", clock.now())
    assert {k: (v["fired"], v["status"]) for k, v in following.items.items()} == {
        "inc-3": (False, "open"), "inc-4": (False, "open")}


def test_two_replicas_sending_the_same_digest_send_it_once(store_env, clock):
    story = Story(store_env, clock)
    gateway = organise(story.app, {"digest": "daily"}, {"li.na": "Asia/Shanghai"})
    story.opened(1, "fridge-017")
    digest = digest_of(story.app, gateway, "li.na", "daily", "Asia/Shanghai", clock.now())
    story.at("2026-11-03T01:00")
    replicas = [story.replica(), story.replica()]
    for replica in replicas:  # both hold the unsent digest in memory
        assert not replica.get_or_none(digest.id).sent
    barrier, outcomes = threading.Barrier(2), []

    def send(replica: NotifierApplication) -> None:
        barrier.wait()
        try:
            outcomes.append(replica.send_digest(digest.id, clock.now()))
        except (DigestSent, IntegrityError) as refused:
            outcomes.append(type(refused).__name__)

    threads = [threading.Thread(target=send, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(outcomes) == 2 and sum(o.startswith("sent to") for o in outcomes) == 1, outcomes
    sent = [e for e in story.app.stored_events(digest.id) if isinstance(e, Digest.Sent)]
    assert len(sent) == 1


def test_a_week_with_a_daylight_saving_change_still_sends_at_nine_local(store_env):
    clock = ManualClock(datetime(2026, 10, 22, 10, 0, tzinfo=UTC))  # Thursday, CEST
    story = Story(store_env, clock)
    gateway = organise(story.app, {"digest": "daily"}, {"anna": "Europe/Berlin"})
    lingering = story.opened(1, "fridge-017")  # stays open over the weekend
    sent = []
    for day in range(6):  # Friday .. Wednesday; summer time ends on Sunday 25 October
        digest = digest_of(story.app, gateway, "anna", "daily", "Europe/Berlin", clock.now())
        clock.advance(digest.period_end - clock.now())
        story.app.send_digest(digest.id, clock.now())
        sent.append(sent_message(story.app, story.app.get_or_none(digest.id)))
        if day == 3:  # Monday, after its digest: one ends, another fires
            story.resolved(lingering)
            story.opened(2, "fridge-018")
    assert [d.occurred_at.strftime("%a %H:%M") for d in sent] == [
        "Fri 07:00", "Sat 07:00", "Sun 08:00", "Mon 08:00", "Tue 08:00", "Wed 08:00"]
    assert [d.about["digest"]["period"]["end"][11:] for d in sent] == ["09:00"] * 6
    assert [d.about["digest"]["counts"] for d in sent] == [
        {"fired": 1, "open": 1, "closed": 0},
        *[{"fired": 0, "open": 1, "closed": 0}] * 3,  # still open: carried day after day
        {"fired": 1, "open": 1, "closed": 1},
        {"fired": 0, "open": 1, "closed": 0}]
    assert len({d.id for d in sent}) == 6


def test_a_weekly_digest_collects_the_week_and_is_sent_on_its_weekday(store_env, clock):
    story = Story(store_env, clock)
    gateway = organise(story.app, {"digest": "weekly", "digest_weekday": "mon"},
                       {"li.na": "Asia/Shanghai"})
    story.opened(1, "fridge-017")  # Monday 10:00
    story.at("2026-11-05T03:00")  # Thursday
    story.opened(2, "fridge-018")
    digest = digest_of(story.app, gateway, "li.na", "weekly", "Asia/Shanghai", clock.now(),
                       "mon")
    assert digest.period_end == datetime(2026, 11, 9, 1, 0, tzinfo=UTC)  # Monday 09:00
    story.at("2026-11-09T01:00")
    story.app.send_digest(digest.id, clock.now())
    delivery = sent_message(story.app, story.app.get_or_none(digest.id))
    assert delivery.reason == "digest.weekly"
    assert delivery.about["digest"]["counts"] == {"fired": 2, "open": 2, "closed": 0}
    assert delivery.about["message"]["subject"].startswith("周报汇总 2026-11-09")


def test_a_redelivered_opening_adds_nothing_and_digest_off_pages_again(store_env, clock):
    story = Story(store_env, clock)
    gateway = organise(story.app, {"digest": "daily"}, {"li.na": "Asia/Shanghai"})
    first = story.opened(1, "fridge-017")
    digest = digest_of(story.app, gateway, "li.na", "daily", "Asia/Shanghai", clock.now())
    version = digest.version
    story.handle(first, "handle_incident_opened")  # the same incident, redelivered
    assert story.app.get_or_none(digest.id).version == version

    [policy] = story.app._policies()
    story.app.update_policy(policy.id, changes={"digest": "off"}, **WHO)
    story.opened(2, "fridge-017")
    person = {"handle": "li.na"}
    assert story.app.get_or_none(Delivery.create_id("inc-2", "incident.opened", gateway,
                                                    person)) is not None
    assert set(story.app.get_or_none(digest.id).items) == {"inc-1"}


def test_a_busy_day_is_read_back_from_snapshots_and_says_the_same(store_env, clock):
    story = Story(store_env, clock)
    gateway = organise(story.app, {"digest": "daily"}, {"li.na": "Asia/Shanghai"})
    for n in range(60):  # past the digest's snapshotting interval
        story.opened(n, "fridge-017" if n % 2 else "fridge-018")
    digest = digest_of(story.app, gateway, "li.na", "daily", "Asia/Shanghai", clock.now())
    assert story.app.snapshots.get(digest.id) is not None
    story.at("2026-11-03T01:00")
    assert story.replica().send_digest(digest.id, clock.now()).endswith(
        "60 fired, 60 open, 0 closed")
    units = sent_message(story.app, story.app.get_or_none(digest.id)).about["digest"]["units"]
    assert [(u["name"], u["fired"]) for u in units] == [("深圳宝安店", 30), ("广州天河店", 30)]


def test_a_silenced_incident_reaches_the_digest_only_when_its_hold_is_released(store_env,
                                                                             clock):
    story = Story(store_env, clock)
    gateway = organise(story.app, {"digest": "daily"}, {"li.na": "Asia/Shanghai"})
    story.app.create_silence(matchers='entity=~"fridge-.*"', starts_at=clock.now(),
                             ends_at=clock.now() + timedelta(minutes=30), comment="refit",
                             **WHO)
    story.opened(1, "fridge-017")
    assert digest_of(story.app, gateway, "li.na", "daily", "Asia/Shanghai", clock.now()) is None
    clock.advance(timedelta(minutes=30))
    opening = story.app.get_or_none(Opening.create_id("inc-1"))
    assert story.app.release_held("inc-1", opening.version, clock.now()) == "released"
    digest = digest_of(story.app, gateway, "li.na", "daily", "Asia/Shanghai", clock.now())
    assert set(digest.items) == {"inc-1"}
