"""Digests without infrastructure: the period arithmetic on the recipient's clock (across
daylight-saving changes), a policy's digest settings refused with the field named, and a
digest's content and rendering."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.notifier.digests.aggregate import Digest, DigestSent, DigestNotDue, ItemStatus
from services.notifier.digests.content import digest_content
from services.notifier.domain import EscalationPolicy
from services.notifier.domain.cadence import Cadence, InvalidDigest
from services.notifier.messages.digest import digest_message

UTC = timezone.utc
CAUSE = {"correlation_id": "c", "causation_id": "m", "trace": {}}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_daily_period_ends_at_nine_on_the_recipients_clock():
    shanghai = Cadence.of("daily", "09:00", None, "Asia/Shanghai")
    assert shanghai.period(utc("2026-11-02T00:59")) == (utc("2026-11-01T01:00"),
                                                        utc("2026-11-02T01:00"))
    # The sending instant itself starts the next period.
    assert shanghai.period(utc("2026-11-02T01:00")) == (utc("2026-11-02T01:00"),
                                                        utc("2026-11-03T01:00"))


def test_across_a_daylight_saving_change_the_reading_stays_nine_and_the_instant_moves():
    berlin = Cadence.of("daily", "09:00", None, "Europe/Berlin")
    # Summer time ends on 2026-10-25 at 03:00 local: 09:00 is 07:00 UTC before, 08:00 after.
    assert berlin.period(utc("2026-10-24T12:00")) == (utc("2026-10-24T07:00"),
                                                      utc("2026-10-25T08:00"))
    assert berlin.period(utc("2026-10-25T07:30")) == (utc("2026-10-24T07:00"),
                                                      utc("2026-10-25T08:00"))
    assert berlin.following(utc("2026-10-25T08:00")) == (utc("2026-10-25T08:00"),
                                                         utc("2026-10-26T08:00"))
    new_york = Cadence.of("daily", "09:00", None, "America/New_York")  # spring forward
    assert new_york.period(utc("2026-03-08T12:00")) == (utc("2026-03-07T14:00"),
                                                        utc("2026-03-08T13:00"))


def test_a_weekly_period_runs_from_its_weekday_to_the_next():
    monday = Cadence.of("weekly", "09:00", "mon", "Asia/Shanghai")
    assert monday.period(utc("2026-11-05T10:00")) == (utc("2026-11-02T01:00"),
                                                      utc("2026-11-09T01:00"))
    friday = Cadence.of("weekly", "17:30", "fri", "Europe/Berlin")  # a week across the change
    assert friday.period(utc("2026-10-26T10:00")) == (utc("2026-10-23T15:30"),
                                                      utc("2026-10-30T16:30"))


def policy(**digest) -> EscalationPolicy:
    return EscalationPolicy.define(
        name="p3-daily", severities=["P3"], at=utc("2026-11-02T00:00"), actor="mgr",
        cause=CAUSE, steps=[{"targets": [{"kind": "person", "ref": "li.na"}],
                             "delay_seconds": 60}], **digest)


@pytest.mark.parametrize("digest, field", [
    ({"digest": "hourly"}, "digest"),
    ({"digest": "daily", "digest_at": "9am"}, "digest_at"),
    ({"digest": "daily", "digest_at": "25:00"}, "digest_at"),
    ({"digest": "weekly", "digest_weekday": "someday"}, "digest_weekday"),
    ({"digest": "daily", "digest_weekday": "mon"}, "digest_weekday"),
    ({"digest": "daily", "digest_time_zone": "Mars/Olympus"}, "digest_time_zone"),
    ({"digest_at": "09:00"}, "digest_at"),
])
def test_a_digest_setting_that_breaks_a_rule_is_refused_naming_its_field(digest, field):
    with pytest.raises(InvalidDigest) as refused:
        policy(**digest)
    assert refused.value.field == field


def test_a_digest_policy_has_defaults_and_can_be_switched_back_to_paging():
    weekly = policy(digest="weekly")
    assert (weekly.digests, weekly.digest_at, weekly.digest_weekday) == (True, "09:00", "mon")
    assert weekly.cadence(None).zone.key == "Asia/Shanghai"
    assert weekly.cadence("Europe/Berlin").zone.key == "Europe/Berlin"
    assert weekly.revise({"digest": "daily"}, utc("2026-11-02T01:00"), "mgr", CAUSE)
    assert (weekly.digest, weekly.digest_weekday) == ("daily", None)
    assert weekly.revise({"digest": "off"}, utc("2026-11-02T01:00"), "mgr", CAUSE)
    assert not weekly.digests and weekly.definition["digest_at"] is None


RECIPIENT = {"key": "ch/li.na", "channel_id": "ch", "channel_name": "im", "target": "person:li.na",
             "person": {"handle": "li.na", "name": "李娜", "language": "zh", "medium": "chat",
                        "address": "@li.na"},
             "time_zone": "Asia/Shanghai", "every": "daily", "digest_at": "09:00",
             "digest_weekday": None}


def item(n: int, unit: str | None, severity: str = "P3", title: str = "冷柜温度偏高") -> dict:
    return {"incident_id": f"inc-{n}", "ref": f"{severity}-2026-11-{n:03d}", "severity": severity,
            "title": title, "entity": f"fridge-{n}", "unit": unit,
            "unit_name": {"store-017": "深圳宝安店", "store-018": "广州天河店"}.get(unit),
            "opened_at": utc("2026-11-02T03:00").isoformat()}


def test_a_digest_says_what_fired_what_is_open_and_what_closed_per_unit_and_sends_once():
    start, end = utc("2026-11-02T01:00"), utc("2026-11-03T01:00")
    digest = Digest.start(recipient=RECIPIENT, every="daily", period_start=start,
                          period_end=end, at=start, actor="notifier", cause=CAUSE)
    assert digest.id == Digest.create_id("daily", "ch/li.na", start)
    at = utc("2026-11-02T05:00")
    assert digest.fired(item(1, "store-017"), at, "notifier", CAUSE)
    assert not digest.fired(item(1, "store-017"), at, "notifier", CAUSE)  # redelivered
    digest.fired(item(2, "store-017", title="<script>x</script>"), at, "notifier", CAUSE)
    digest.carried(item(3, "store-018"), at, "notifier", CAUSE)  # open since yesterday
    digest.ended(item(1, "store-017"), ItemStatus.RESOLVED, at, "notifier", CAUSE)
    digest.ended(item(4, None), ItemStatus.CLOSED, at, "notifier", CAUSE)  # from an earlier day

    content = digest_content(digest)
    assert content["counts"] == {"fired": 2, "open": 2, "closed": 2}
    assert [i["ref"] for i in content["fired"]] == ["P3-2026-11-001", "P3-2026-11-002"]
    assert [i["ref"] for i in content["open"]] == ["P3-2026-11-002", "P3-2026-11-003"]
    assert content["period"] == {"start": "2026-11-02T09:00", "end": "2026-11-03T09:00",
                                 "start_utc": start.isoformat(), "end_utc": end.isoformat()}
    assert content["units"] == [
        {"unit": "store-017", "name": "深圳宝安店", "fired": 2, "open": 1, "closed": 1},
        {"unit": "store-018", "name": "广州天河店", "fired": 0, "open": 1, "closed": 0},
        {"unit": "-", "name": "-", "fired": 0, "open": 0, "closed": 1}]

    zh = digest_message(content, "zh")
    assert zh.subject == "日报汇总 2026-11-03 · 2 新 / 2 未关闭 / 2 已关闭"
    assert "**新发生 2**" in zh.markdown and "深圳宝安店：2 / 1 / 1" in zh.markdown
    assert "**" not in zh.text and "新发生 2" in zh.text
    assert "&lt;script&gt;" in zh.html and "<script>" not in zh.html  # titles are escaped
    en = digest_message(content, "en")
    assert en.subject == "Daily digest 2026-11-03 · 2 fired / 2 open / 2 closed"
    assert "广州天河店: 0 / 1 / 0" in en.text

    with pytest.raises(DigestNotDue):
        digest.send(None, content["counts"], end - timedelta(seconds=1), "w", CAUSE)
    digest.send(None, content["counts"], end, "w", CAUSE)
    with pytest.raises(DigestSent):
        digest.send(None, content["counts"], end, "w", CAUSE)
    with pytest.raises(DigestSent):
        digest.fired(item(5, None), end, "notifier", CAUSE)
