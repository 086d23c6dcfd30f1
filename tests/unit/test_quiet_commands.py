"""The quiet rules as the notifier's application keeps them: every change a stored event
with actor and cause, the tree checked against the policies, and the cache that decisions
read refreshed when anything changes."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet

from services.notifier.app import NotifierApplication
from services.notifier.channels import EgressPolicy
from services.notifier.domain.routing import NameTaken
from services.notifier.quiet import QUIET_INDEX_ID, ROUTES_ID, HoldKind
from services.notifier.sealing import Sealer
from shared.clock import ManualClock
from shared.errors import Invalid, NotFound

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1"}
STORE = {"alertname": "HighLatency", "store": "深圳宝安店", "severity": "P1"}


@pytest.fixture
def app(store_env):
    app = NotifierApplication(store_env, ManualClock(T0),
                              sealer=Sealer(Fernet.generate_key().decode()), egress=EgressPolicy())
    channel = app.register_channel(name="oncall", kind="webhook", url="https://hooks.example.com/x",
                                   secret="s3cret-s3cret-s3cret", headers=None, actor="li.na",
                                   cause=CAUSE)
    for name, severities in (("critical", ["P0", "P1"]), ("stores", ["P3"])):
        app.define_policy(name=name, severities=severities, notify=[str(channel["id"])],
                          escalate_after_seconds=900, escalate_to=[], actor="li.na", cause=CAUSE)
    return app


def test_the_default_tree_routes_by_severity_until_one_is_defined(app):
    assert app.routes()["default"] is True
    assert app.test_route(STORE)["policies"] == ["critical"]
    defined = app.define_routes({"routes": [{"matchers": ['store=~".+"'], "receiver": "stores"}]},
                                "li.na", CAUSE)
    assert defined["default"] is False and defined["updated_by"] == "li.na"
    assert app.test_route(STORE)["policies"] == ["stores"]
    assert app.test_route({"severity": "P0"})["policies"] == ["critical"]
    [event] = app.stored_events(ROUTES_ID)
    assert (event.actor, event.cause) == ("li.na", CAUSE)


def test_a_tree_naming_an_unknown_policy_or_a_bad_matcher_is_refused(app):
    with pytest.raises(Invalid, match="no escalation policy is named 'ghosts'") as refused:
        app.define_routes({"routes": [{"receiver": "ghosts"}]}, "li.na", CAUSE)
    assert refused.value.field == "root.routes[0].receiver"
    with pytest.raises(Invalid) as refused:
        app.define_routes({"routes": [{"matchers": ["store=~(("], "receiver": "stores"}]},
                          "li.na", CAUSE)
    assert refused.value.field == "root.routes[0].matchers[0]"
    assert app.get_or_none(ROUTES_ID) is None


def test_silences_windows_and_rules_reach_the_decision_cache(app):
    cache = app.quiet_cache
    assert cache.current().held_by(STORE, T0) is None
    silence = app.create_silence(matchers=['store="深圳宝安店"'], starts_at=T0,
                                 ends_at=T0 + timedelta(hours=1), comment="refit",
                                 actor="li.na", cause=CAUSE)
    assert silence["state"] == "active" and silence["created_by"] == "li.na"
    hold = cache.current().held_by(STORE, T0)
    assert (hold.kind, hold.id) == (HoldKind.SILENCE, silence["id"])

    app.expire_silence(silence["id"], "wang.wu", CAUSE)
    assert cache.current().held_by(STORE, T0) is None
    assert app.silence(silence["id"])["state"] == "expired"
    assert app.get_or_none(QUIET_INDEX_ID).silences == {}

    window = app.define_rule("window", {"name": "nightly", "matchers": ['store=~"深圳.*"'],
                                        "time_zone": "Asia/Shanghai", "days": ["mon"],
                                        "start": "16:30", "duration_minutes": 60}, "li.na", CAUSE)
    assert cache.current().held_by(STORE, T0).kind is HoldKind.MAINTENANCE  # 17:00 Shanghai
    with pytest.raises(NameTaken):
        app.define_rule("window", {"name": "nightly", "matchers": ["a=b"], "time_zone": "UTC",
                                   "days": ["mon"], "start": "00:00", "duration_minutes": 1},
                        "li.na", CAUSE)
    app.revise_rule("window", window["id"], {"matchers": ['store=~"深圳.*"'],
                                              "time_zone": "Asia/Shanghai", "days": ["tue"],
                                              "start": "16:30", "duration_minutes": 60},
                    "li.na", CAUSE)
    assert cache.current().held_by(STORE, T0) is None
    app.delete_rule("window", window["id"], "li.na", CAUSE)
    with pytest.raises(NotFound):
        app.rule("window", window["id"])

    rule = app.define_rule("inhibition", {"name": "store-down",
                                          "source_matchers": ["alertname=StoreOffline"],
                                          "target_matchers": ['severity=~"P[1-3]"'],
                                          "equal": ["store"]}, "li.na", CAUSE)
    offline = {"alertname": "StoreOffline", "store": "深圳宝安店", "severity": "P0"}
    hold = cache.current().held_by(STORE, T0, firing=[offline])
    assert (hold.kind, hold.id, hold.by) == (HoldKind.INHIBITION, rule["id"], offline)
    rules = cache.current()
    assert cache.current() is rules  # nothing changed: nothing read again


def test_a_deleted_window_name_can_be_defined_again(app):
    spec = {"name": "weekly", "matchers": ["team=db"], "time_zone": "UTC", "days": ["sun"],
            "start": "02:00", "duration_minutes": 30}
    first = app.define_rule("window", spec, "li.na", CAUSE)
    app.delete_rule("window", first["id"], "li.na", CAUSE)
    again = app.define_rule("window", {**spec, "start": "03:00"}, "wang.wu", CAUSE)
    assert again["id"] == first["id"] and again["start"] == "03:00"
    assert app.quiet_cache.current().of(type(app.get_or_none(first["id"])))
