"""What holds an alert quiet and until when: silences (start, end, early expiry),
maintenance windows recurring in their own time zone across daylight-saving changes, and
inhibition rules fed with the firing alerts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.notifier.quiet.holds import HoldKind, hold_ends, held_by
from services.notifier.quiet.inhibitions import InhibitionRule
from services.notifier.quiet.recurrence import Weekly
from services.notifier.quiet.silences import Silence, SilenceExpired, SilenceState
from services.notifier.quiet.windows import MaintenanceWindow
from shared.errors import Invalid

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
CAUSE = {"correlation_id": "corr-1"}
UTC = timezone.utc
STORE = {"alertname": "HighLatency", "store": "深圳宝安店", "severity": "P2"}


def silence(matchers, starts=T0, ends=T0 + timedelta(hours=1), at=T0) -> Silence:
    return Silence.create(matchers=matchers, starts_at=starts, ends_at=ends,
                          comment="store refit", at=at, actor="li.na", cause=CAUSE)


def window(name="nightly", matchers=('store=~"深圳.*"',), zone="Europe/Berlin",
           days=("mon", "tue", "wed", "thu", "fri", "sat", "sun"), start="01:00",
           minutes=120) -> MaintenanceWindow:
    definition = MaintenanceWindow.normalised(
        name=name, matchers=list(matchers), time_zone=zone, days=list(days), start=start,
        duration_minutes=minutes)
    return MaintenanceWindow.define(definition, T0, "li.na", CAUSE)


def inhibition(source, target, equal=()) -> InhibitionRule:
    definition = InhibitionRule.normalised(name="store-down", source_matchers=list(source),
                                           target_matchers=list(target), equal=list(equal))
    return InhibitionRule.define(definition, T0, "li.na", CAUSE)


def hold(labels, at, silences=(), windows=(), rules=(), firing=()):
    return held_by(labels, at, list(silences), list(windows), list(rules), list(firing))


# -- silences ---------------------------------------------------------------------------------

def test_a_silence_holds_matching_alerts_from_its_start_until_its_end():
    quiet = silence(['store="深圳宝安店"'], starts=T0 + timedelta(minutes=10))
    assert quiet.state(T0) is SilenceState.PENDING
    assert hold(STORE, T0, [quiet]) is None
    found = hold(STORE, T0 + timedelta(minutes=10), [quiet])
    assert (found.kind, found.id, found.name, found.until) == (
        HoldKind.SILENCE, quiet.id, "store refit", T0 + timedelta(hours=1))
    assert hold({**STORE, "store": "广州天河店"}, T0 + timedelta(minutes=30), [quiet]) is None
    # The silence ends and the alert, still firing, is told about from then on.
    assert hold(STORE, T0 + timedelta(hours=1), [quiet]) is None
    assert quiet.state(T0 + timedelta(hours=1)) is SilenceState.EXPIRED


def test_expiring_a_silence_ends_it_now_and_a_second_expiry_is_refused():
    quiet = silence(['store="深圳宝安店"'])
    quiet.expire(T0 + timedelta(minutes=5), "wang.wu", CAUSE)
    assert quiet.ends_at == T0 + timedelta(minutes=5) and quiet.expired_by == "wang.wu"
    assert hold(STORE, T0 + timedelta(minutes=6), [quiet]) is None
    with pytest.raises(SilenceExpired):
        quiet.expire(T0 + timedelta(minutes=6), "wang.wu", CAUSE)
    pending = silence(["store=x"], starts=T0 + timedelta(hours=1), ends=T0 + timedelta(hours=2))
    pending.expire(T0, "wang.wu", CAUSE)  # it never begins
    assert pending.starts_at == pending.ends_at == T0


@pytest.mark.parametrize("kwargs, field", [
    ({"matchers": []}, "matchers"),
    ({"matchers": ["store="]}, "matchers"),  # would silence nearly everything
    ({"matchers": ['store=~".*"', "team!=db"]}, "matchers"),
    ({"matchers": ["store=x"], "ends": T0 - timedelta(minutes=1),
      "starts": T0 - timedelta(hours=1)}, "ends_at"),
    ({"matchers": ["store=x"], "ends": T0 + timedelta(hours=1),
      "starts": T0 + timedelta(hours=2)}, "ends_at"),
    ({"matchers": ["store=x", 'bad=~"(?=x)"']}, "matchers[1]"),
])
def test_a_bad_silence_is_refused_naming_the_field(kwargs, field):
    with pytest.raises(Invalid) as refused:
        silence(kwargs["matchers"], starts=kwargs.get("starts", T0),
                ends=kwargs.get("ends", T0 + timedelta(hours=1)))
    assert refused.value.field == field


def test_a_silence_starting_in_the_past_starts_now():
    assert silence(["store=x"], starts=T0 - timedelta(days=1)).starts_at == T0


# -- maintenance windows ----------------------------------------------------------------------

def test_a_nightly_window_stays_at_its_local_time_across_the_autumn_change():
    nightly = window()  # 01:00-03:00 Berlin time, every day
    # Before the change (CEST, UTC+2): 01:00 local is 23:00 UTC the evening before.
    assert hold(STORE, datetime(2026, 10, 23, 23, 30, tzinfo=UTC), windows=[nightly]) is not None
    # The night of the change: opens 01:00 CEST (23:00 UTC), lasts two real hours.
    found = hold(STORE, datetime(2026, 10, 25, 0, 30, tzinfo=UTC), windows=[nightly])
    assert (found.kind, found.name, found.until) == (
        HoldKind.MAINTENANCE, "nightly", datetime(2026, 10, 25, 1, 0, tzinfo=UTC))
    # After it (CET, UTC+1): 01:00 local is 00:00 UTC, an hour later in UTC than before.
    assert hold(STORE, datetime(2026, 10, 25, 23, 30, tzinfo=UTC), windows=[nightly]) is None
    found = hold(STORE, datetime(2026, 10, 26, 0, 30, tzinfo=UTC), windows=[nightly])
    assert found.until == datetime(2026, 10, 26, 2, 0, tzinfo=UTC)
    assert hold({"store": "广州天河店"}, datetime(2026, 10, 26, 0, 30, tzinfo=UTC),
                windows=[nightly]) is None


def test_a_start_time_the_spring_change_skips_opens_when_the_clocks_have_jumped():
    # 02:30 does not exist in Berlin on 29 March 2026: the window opens at 03:30 CEST.
    recurrence = Weekly.parse(time_zone="Europe/Berlin", days=["sun"], start="02:30",
                              duration_minutes=60)
    opens, closes = recurrence.occurrence(datetime(2026, 3, 29).date())
    assert opens == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert recurrence.open_at(datetime(2026, 3, 29, 2, 0, tzinfo=UTC)) == (opens, closes)
    assert recurrence.next_opening(closes) == datetime(2026, 4, 5, 0, 30, tzinfo=UTC)


def test_a_weekly_window_is_open_only_on_its_days_even_when_it_runs_past_midnight():
    weekend = window(days=["sat"], start="22:00", minutes=240, zone="Asia/Shanghai")
    saturday_late = datetime(2026, 11, 7, 15, 0, tzinfo=UTC)     # Sat 23:00 Shanghai
    sunday_early = datetime(2026, 11, 7, 17, 30, tzinfo=UTC)     # Sun 01:30 Shanghai
    friday_late = datetime(2026, 11, 6, 15, 0, tzinfo=UTC)       # Fri 23:00 Shanghai
    assert hold(STORE, saturday_late, windows=[weekend]) is not None
    assert hold(STORE, sunday_early, windows=[weekend]).until == datetime(2026, 11, 7, 18, 0, tzinfo=UTC)
    assert hold(STORE, friday_late, windows=[weekend]) is None


@pytest.mark.parametrize("change, field", [
    ({"zone": "Mars/Olympus"}, "time_zone"), ({"zone": "/etc/passwd"}, "time_zone"),
    ({"days": ["monday"]}, "days"), ({"days": []}, "days"), ({"start": "25:00"}, "start"),
    ({"minutes": 0}, "duration_minutes"), ({"minutes": 8 * 24 * 60}, "duration_minutes"),
    ({"matchers": ()}, "matchers"), ({"matchers": ('x=~"("',)}, "matchers[0]"),
])
def test_a_bad_window_is_refused_naming_the_field(change, field):
    with pytest.raises(Invalid) as refused:
        window(**change)
    assert refused.value.field == field


# -- inhibitions ------------------------------------------------------------------------------

OFFLINE = {"alertname": "StoreOffline", "store": "深圳宝安店", "severity": "P0"}


def test_a_firing_source_holds_targets_sharing_the_equal_labels():
    rule = inhibition(['alertname="StoreOffline"'], ['severity=~"P2|P3"'], ["store"])
    found = hold(STORE, T0, rules=[rule], firing=[OFFLINE, STORE])
    assert (found.kind, found.name, found.until, found.by) == (
        HoldKind.INHIBITION, "store-down", None, OFFLINE)
    assert hold({**STORE, "store": "广州天河店"}, T0, rules=[rule], firing=[OFFLINE]) is None
    assert hold(STORE, T0, rules=[rule], firing=[]) is None  # the source resolved
    assert hold(OFFLINE, T0, rules=[rule], firing=[OFFLINE]) is None  # not a target


def test_a_missing_equal_label_equals_a_missing_one():
    rule = inhibition(["alertname=A"], ["alertname=B"], ["cluster"])
    assert hold({"alertname": "B"}, T0, rules=[rule], firing=[{"alertname": "A"}]) is not None
    assert hold({"alertname": "B", "cluster": "x"}, T0, rules=[rule],
                firing=[{"alertname": "A"}]) is None


def test_an_alert_never_holds_itself_nor_do_two_alerts_matching_both_sides_hold_each_other():
    rule = inhibition(["alertname=A"], ['alertname=~"A|B"'])
    a1, a2 = {"alertname": "A", "instance": "1"}, {"alertname": "A", "instance": "2"}
    assert hold(a1, T0, rules=[rule], firing=[a1]) is None
    assert hold(a1, T0, rules=[rule], firing=[a1, a2]) is None
    assert hold({"alertname": "B"}, T0, rules=[rule], firing=[a1]) is not None


# -- the decision -----------------------------------------------------------------------------

def test_a_silence_is_named_before_a_window_and_a_window_before_an_inhibition():
    at = datetime(2026, 10, 26, 0, 30, tzinfo=UTC)
    quiet = silence(['store="深圳宝安店"'], starts=at, ends=at + timedelta(hours=3), at=at)
    rule = inhibition(['alertname="StoreOffline"'], ['severity="P2"'], ["store"])
    everything = dict(silences=[quiet], windows=[window()], rules=[rule], firing=[OFFLINE])
    assert hold(STORE, at, **everything).kind is HoldKind.SILENCE
    assert hold(STORE, at, **{**everything, "silences": []}).kind is HoldKind.MAINTENANCE
    assert hold(STORE, at, rules=[rule], firing=[OFFLINE]).kind is HoldKind.INHIBITION


def test_the_hold_ends_when_no_silence_or_window_holds_it_any_more():
    at = datetime(2026, 10, 26, 0, 30, tzinfo=UTC)  # inside the nightly window (until 02:00)
    quiet = silence(['store="深圳宝安店"'], starts=at, ends=at + timedelta(minutes=30), at=at)
    nightly = window()
    # The silence ends at 01:00, the window still holds until 02:00: released at 02:00.
    assert hold_ends(STORE, at, [quiet], [nightly], [], []) == (
        datetime(2026, 10, 26, 2, 0, tzinfo=UTC), None)
    # A longer silence bridging into the next night's window keeps it held through that one.
    bridge = silence(['store="深圳宝安店"'], starts=at, ends=datetime(2026, 10, 27, 0, 30, tzinfo=UTC),
                     at=at)
    assert hold_ends(STORE, at, [bridge], [nightly], [], [])[0] == datetime(
        2026, 10, 27, 2, 0, tzinfo=UTC)
    assert hold_ends({"store": "广州天河店"}, at, [quiet], [nightly], [], []) == (at, None)
    rule = inhibition(['alertname="StoreOffline"'], ['severity="P2"'], ["store"])
    until, holding = hold_ends(STORE, at, [quiet], [nightly], [rule], [OFFLINE])
    assert until is None and holding.kind is HoldKind.INHIBITION
