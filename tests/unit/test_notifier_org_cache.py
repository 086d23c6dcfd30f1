"""The organisation chart kept in memory: checked before each use with one question whose
answer is one row however large the organisation (how many of its aggregates exist and the
sum of their versions), read again only when that changed, and asked once per consumer
batch. Collected again on PostgreSQL (tests/integration/test_applications_on_postgres.py)."""
from __future__ import annotations

import pytest

from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.directory import Person
from services.notifier.domain import Delivery, DeliveryStatus
from services.notifier.store_reads import fingerprint_of
from shared.clock import ManualClock
from tests.unit.test_notifier_batches import Counting
from tests.unit.test_notifier_domain import CAUSE, SEALER, SECRET, T0, opened

WHO = {"actor": "mgr", "cause": CAUSE}


@pytest.fixture
def app(store_env):
    return NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=EgressPolicy())


def store_network(app: NotifierApplication, stores: int) -> None:
    """A webhook channel, `stores` store managers on it, one unit per store, and a policy
    paging the incident's entity's 店长 on P0."""
    app.register_channel(name="robot", kind="webhook", url="http://h/1", secret=SECRET,
                         headers=None, **WHO)
    for n in range(stores):
        app.add_person(definition={"handle": f"sm.{n}", "name": f"店长{n}", "contacts": [
            {"medium": "webhook", "address": f"@sm{n}", "channel": "robot"}]}, **WHO)
        app.define_unit(definition={"key": f"store-{n}", "name": f"门店{n}",
                                    "roles": {"店长": [f"sm.{n}"]}, "entities": [f"db-{n}"]},
                        **WHO)
    app.define_policy(name="stores", severities=["P0"], steps=[
        {"targets": [{"kind": "role", "ref": "店长"}], "delay_seconds": 600}], **WHO)


def test_the_fingerprint_is_the_count_and_the_sum_of_the_latest_versions(app):
    app.add_person(definition={"handle": "li.na", "name": "李娜"}, **WHO)
    li_na, nobody = Person.create_id("li.na"), Person.create_id("nobody")
    app.update_person("li.na", changes={"name": "李娜娜"}, left=None, why=None, **WHO)

    assert app.reads.latest_versions([li_na, nobody]) == {li_na: 2}
    assert app.reads.fingerprint([li_na, nobody]) == fingerprint_of({li_na: 2}) == (1, 2)
    assert app.reads.fingerprint([]) == (0, 0)


def test_an_unchanged_chart_is_checked_with_the_fingerprint_alone_and_a_change_is_seen(app):
    store_network(app, 3)
    assert app.org_chart().person("sm.1")["name"] == "店长1"
    app.reads.latest_versions = versions = Counting(app.reads.latest_versions)

    for _ in range(3):
        assert app.org_chart().person("sm.1")["name"] == "店长1"
    assert versions.calls == 0  # nothing changed: no version read back per aggregate

    app.update_person("sm.1", changes={"name": "李娜"}, left=None, why=None, **WHO)
    assert app.org_chart().person("sm.1")["name"] == "李娜"
    app.define_unit(definition={"key": "store-9", "name": "门店9", "entities": ["db-9"]}, **WHO)
    assert "store-9" in app.org_chart().units


def test_a_consumer_batch_asks_for_the_chart_once_and_pages_each_stores_manager(app):
    store_network(app, 3)
    app.reads.fingerprint = checks = Counting(app.reads.fingerprint)
    incidents = []

    def batch() -> None:
        for n in range(3):
            envelope, contract, tracking = opened(f"inc-s{n}", seq=10 + n)
            contract = contract.model_copy(update={"entity": f"db-{n}"})
            envelope = envelope.model_copy(update={"data": contract.model_dump(mode="json")})
            app.handle_incident_opened(envelope, contract, tracking)
            incidents.append(contract.incident_id)

    app.save_batch(batch)
    assert checks.calls == 1
    robot = app.config_cache.current()[0].channel_named("robot")
    for n, incident in enumerate(incidents):
        delivery = app.repository.get(Delivery.create_id(
            incident, "incident.opened", str(robot.id), {"handle": f"sm.{n}"}))
        assert delivery.status is DeliveryStatus.PENDING
