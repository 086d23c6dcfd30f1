"""Channel kinds at configuration time (a URL each kind can use, or a refusal naming the field
and the fix; tokens sealed and shown masked; contacts of the medium a channel sends), and
per-person rate limits: the overflow held back and folded into one later message, on the
injected clock."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.notifier.app import NotifierApplication
from services.notifier.attempts import Due, Reported
from services.notifier.channels import EgressPolicy, Outcome
from services.notifier.channels.kinds import EmailUrl, check_url
from services.notifier.contact_limits import ContactLimits, Limit, parse_limits
from services.notifier.directory.chart import OrgChart
from services.notifier.domain import ChannelKind, Delivery, DeliveryStatus, InvalidChannel
from services.notifier.target_checks import Reach, check_targets
from services.notifier.views import attempt_history
from shared.clock import ManualClock
from shared.errors import Invalid
from tests.unit.test_notifier_domain import CAUSE, SEALER, T0, seconds

DINGTALK = "dingtalk://s3cr3ttoken1234/"
SMS = "twilio://ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:s3cr3ts3cr3ts3cr3ts3cr3ts3cr3t12@15551234567"


@pytest.fixture
def app(store_env):
    return NotifierApplication(store_env, ManualClock(T0), sealer=SEALER, egress=EgressPolicy(),
                               contact_limits=ContactLimits(parse_limits("sms=2/15m")))


def register(app, name: str, kind: str, url: str, **extra) -> dict:
    return app.register_channel(name=name, kind=kind, url=url, secret=extra.get("secret"),
                                headers=extra.get("headers"), actor="mgr", cause=CAUSE)


# -- URLs per kind --------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "url"), [
    ("wecom", "wecombot://k3y1234"), ("dingtalk", DINGTALK), ("feishu", "feishu://t0ken1234"),
    ("feishu", "lark://t0ken1234"), ("slack", "slack://T1234/B5678/abcdefghijklmnopqrstuvwx"),
    ("slack", "https://hooks.slack.com/services/T1234/B5678/abcdefghijklmnopqrstuvwx"),
    ("teams", "workflows://teams.example.com:443/wf123/s1g"), ("sms", SMS),
    ("sms", "smseagle://t0ken@gateway.example.com/"), ("apprise", "ntfy://alerts-topic"),
    ("apprise", "json://u:p4ssw0rd@hooks.example.com/s3cr3ts3cr3t?+X-Token=k3y1234"),
    ("email", "smtps://alerts:p4ssw0rd@mail.example.com/?from=alerts@example.com"),
])
def test_each_kind_takes_its_services_urls_and_shows_them_masked(kind, url):
    checked = check_url(ChannelKind(kind), url)
    for secret in ("k3y1234", "s3cr3ttoken1234", "t0ken1234", "abcdefghijklmnopqrstuvwx",
                   "s3cr3ts3cr3t", "p4ssw0rd", "s1g", "wf123"):
        assert secret not in checked.hint


@pytest.mark.parametrize(("kind", "url", "fix"), [
    ("dingtalk", "slack://T1234/B5678/abcdefghijklmnopqrstuvwx", "not a dingtalk one"),
    ("sms", "dingtalk://t0ken1234/", "use kind apprise"),
    ("wecom", "wecombot://", "Apprise cannot read this URL"),
    ("apprise", "nope://whatever", "Apprise cannot read this URL"),
    ("email", "smtp://mail.example.com/", "?from=alerts@example.com"),
    ("email", "https://mail.example.com/", "smtps://"),
    ("email", "smtps://[mail.example.com/?from=a@example.com", "this is not a URL"),
    ("email", "smtps://mail.example.com:99999/?from=a@example.com", "port"),
    ("webhook", "https://[::1/x", "this is not a URL"),
])
def test_a_url_the_kind_cannot_use_is_refused_naming_the_field_and_the_fix(kind, url, fix):
    with pytest.raises(InvalidChannel) as refused:
        check_url(ChannelKind(kind), url)
    assert refused.value.field == "url" and fix in str(refused.value)


def test_email_urls_say_tls_from_the_first_byte_or_starttls():
    assert EmailUrl.parse("smtps://mail.example.com/?from=a@example.com").port == 465
    plain = EmailUrl.parse("smtp://u:p@mail.example.com/?from=a@example.com&to=ops@example.com")
    assert (plain.port, plain.implicit_tls, plain.to) == (587, False, "ops@example.com")


def test_an_apprise_channel_is_stored_sealed_and_shown_masked(app):
    view = register(app, "robot", "dingtalk", DINGTALK)
    channel = app.repository.get(view["id"])

    assert "s3cr3ttoken1234" not in view["url"] and view["url"].startswith("dingtalk://")
    assert channel.url.startswith("fernet:")  # sealed in the event store
    recorded = [e for e in app.repository.event_store.get(channel.id)]
    assert all("s3cr3ttoken1234" not in repr(e.__dict__) for e in recorded)
    target = app.config_cache.current()[0].target(channel, T0, SEALER)
    assert target.url == DINGTALK  # opened only to send


def test_kinds_that_sign_nothing_take_no_secret_or_headers_but_webhooks_still_need_one(app):
    with pytest.raises(InvalidChannel) as refused:
        register(app, "hook", "webhook", "https://hooks.example.com/x")
    assert refused.value.field == "secret"
    with pytest.raises(InvalidChannel) as refused:
        register(app, "robot", "dingtalk", DINGTALK, headers={"X-Token": "t"})
    assert refused.value.field == "headers"
    with pytest.raises(InvalidChannel) as refused:
        register(app, "robot", "slack", DINGTALK)
    assert refused.value.field == "url"


def test_an_internal_host_named_in_a_self_hosted_service_url_is_refused_at_definition(app):
    with pytest.raises(InvalidChannel) as refused:
        register(app, "gw", "sms", "smseagle://t0ken@10.1.2.3/")
    assert refused.value.field == "url" and "private" in str(refused.value)
    register(app, "twilio", "sms", SMS)  # a phone number is no host


def test_an_edited_url_is_checked_for_the_channels_kind_and_sealed_again(app):
    view = register(app, "robot", "dingtalk", DINGTALK)
    with pytest.raises(InvalidChannel):
        app.update_channel(view["id"], url="feishu://t0ken1234", actor="mgr", cause=CAUSE)
    edited = app.update_channel(view["id"], url="dingtalk://n3wt0ken99/", actor="mgr",
                                cause=CAUSE)
    assert "n3wt0ken99" not in edited["url"]
    assert app.repository.get(view["id"]).url.startswith("fernet:")


# -- contacts of the medium a channel sends ---------------------------------------------------

def test_a_person_whose_contact_on_a_channel_is_of_another_medium_is_refused_with_the_fix():
    chart = OrgChart(people={"wu.qi": {"contacts": [
        {"medium": "email", "address": "wu@example.com", "channel": "pager-sms"}]}})
    reach = Reach(chart=chart, channel_ids=set(), channel_names={"pager-sms"},
                  schedule_exists=lambda _: False, channel_media={"pager-sms": "sms"})
    with pytest.raises(Invalid) as refused:
        check_targets({"steps": [{"targets": [{"kind": "person", "ref": "wu.qi"}],
                                  "delay_seconds": 0}]}, False, reach)
    assert refused.value.field == "steps[0].targets[0].ref"
    assert "give wu.qi a sms contact there" in str(refused.value)


# -- rate limits ------------------------------------------------------------------------------

def test_limits_are_read_from_the_setting_and_a_bad_entry_is_refused_naming_it():
    assert parse_limits("sms=3/15m, email=20/1h") == {
        "sms": Limit(3, timedelta(minutes=15)), "email": Limit(20, timedelta(hours=1))}
    for bad in ("sms=3", "fax=1/15m", "sms=0/15m", "sms=3/15d"):
        with pytest.raises(ValueError, match="CLOSEDLOOP_NOTIFIER_CONTACT_LIMITS"):
            parse_limits(bad)


def test_the_overflow_waits_for_room_and_is_carried_by_the_next_message():
    limits = ContactLimits({"sms": Limit(2, timedelta(minutes=15))})

    def decide(d: str, at):
        return limits.decide("sms", "+86138", d, {"ref": d, "title": "t", "reason": "r"}, at)

    assert decide("d1", T0).send and decide("d2", T0 + seconds(60)).send
    held = decide("d3", T0 + seconds(120))
    assert held.until == T0 + timedelta(minutes=15)
    assert decide("d4", T0 + seconds(180)).until == held.until
    # Another person's window is their own, and a medium without a limit is not counted.
    assert limits.decide("sms", "+86139", "d5", {}, T0 + seconds(180)).send
    assert limits.decide("email", "+86138", "d6", {}, T0 + seconds(180)).send
    carrier = decide("d3", held.until)  # the first one due again carries the others
    assert carrier.send and [c["id"] for c in carrier.carries] == ["d4"]
    assert decide("d4", held.until).into == "d3"
    assert decide("d3", held.until).carries == carrier.carries  # a retry carries the same


def person_delivery(app, incident: str, channel_id: str) -> Delivery:
    delivery = Delivery(
        incident_id=incident, ref=f"P0-{incident}", severity="P0", title=f"{incident} down",
        entity="db-1", occurred_at=T0, channel_id=channel_id, channel_name="pager",
        reason="incident.opened", max_attempts=5, at=T0, actor="notifier", cause=CAUSE,
        recipient={"handle": "wu.qi", "name": "Wu Qi", "language": "zh", "medium": "sms",
                   "address": "+8613800000000"})
    app.save(delivery)
    return delivery


def test_messages_over_a_persons_limit_are_throttled_then_folded_into_one(app):
    channel = register(app, "pager", "sms", SMS)["id"]
    ids = [person_delivery(app, f"inc-{n}", str(channel)).id for n in range(4)]
    at = T0 + seconds(10)

    claimed = app.claim_attempts([Due(d, "pending", 0) for d in ids], at)

    assert [job.delivery_id for job in claimed] == ids[:2]
    statuses = [app.repository.get(d).status for d in ids]
    assert statuses[2:] == [DeliveryStatus.THROTTLED] * 2
    held = app.repository.get(ids[2])
    assert held.next_attempt_at == at + timedelta(minutes=15)
    assert "wu.qi's sms limit (2 per 15 min) is reached" in held.last_error

    later = held.next_attempt_at  # the clock has moved on: the window has room again
    [carrier] = app.claim_attempts([Due(d, "retrying", 0) for d in ids[2:]], later)

    assert carrier.delivery_id == ids[2]
    assert [f["ref"] for f in carrier.notification.folded] == ["P0-inc-3"]
    folded = app.repository.get(ids[3])
    assert folded.status is DeliveryStatus.FOLDED and str(ids[2]) in folded.last_error
    history = attempt_history(list(app.repository.event_store.get(ids[3])))
    assert [h["outcome"] for h in history] == ["throttled", "folded"]
    carried = attempt_history(list(app.repository.event_store.get(ids[2])))
    assert [h["outcome"] for h in carried] == ["throttled", "sending"]
    assert carried[1]["folded"] == [str(ids[3])]
    json.dumps(carried, default=str)  # the history is plain data


def test_a_template_fallback_is_recorded_on_the_attempt(app):
    channel = register(app, "robot", "dingtalk", DINGTALK)["id"]
    delivery = person_delivery(app, "inc-f", str(channel))
    [job] = app.claim_attempts([Due(delivery.id, "pending", 0)], T0)
    fallback = "template chat.zh failed: 'incident' is undefined; the shipped one was used"

    app.record_outcomes([Reported(delivery.id, 1, Outcome.success(200, fallback_reason=fallback),
                                  T0 + seconds(1))])

    [attempt] = app.delivery(delivery.id)["history"]
    assert (attempt["outcome"], attempt["fallback_reason"]) == ("delivered", fallback)
    assert job.notification.recipient["language"] == "zh"


def test_a_contact_on_a_channel_of_another_medium_is_refused_when_the_person_is_written(app):
    register(app, "pager-sms", "sms", SMS)
    person = {"handle": "wu.qi", "name": "Wu Qi", "time_zone": "Asia/Shanghai", "contacts": [
        {"medium": "email", "address": "wu@example.com", "channel": "pager-sms"}]}
    with pytest.raises(Invalid) as refused:
        app.add_person(definition=person, actor="mgr", cause=CAUSE)
    assert refused.value.field == "contacts[0].medium" and "sends sms" in str(refused.value)

    app.add_person(definition={**person, "contacts": [
        {"medium": "sms", "address": "+8613800000000", "channel": "pager-sms"}]},
        actor="mgr", cause=CAUSE)
    with pytest.raises(Invalid):
        app.update_person("wu.qi", changes={"contacts": person["contacts"]}, left=None,
                          why=None, actor="mgr", cause=CAUSE)
