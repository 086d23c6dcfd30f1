"""SLA calendars: working time added on a 24×7 clock and on business hours with a time
zone, public holidays (China's 调休 working weekends included) and clock changes."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.incidents.calendars import AlwaysOn, BusinessHours, NoWorkingTime

SHANGHAI, BERLIN = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")
NINE_TO_SIX = ((time(9), time(18)),)


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


def office(zone: str = "Asia/Shanghai", country: str | None = "CN", **kw) -> BusinessHours:
    hours = kw.pop("hours", NINE_TO_SIX)
    return BusinessHours(zone=zone, week={d: hours for d in range(5)}, country=country, **kw)


def test_a_24x7_clock_counts_every_second():
    start = datetime(2026, 11, 6, 9, 50, tzinfo=timezone.utc)
    assert AlwaysOn().add(start, timedelta(minutes=30)) == start + timedelta(minutes=30)
    assert AlwaysOn().working_between(start, start - timedelta(hours=1)) == timedelta(0)


def test_friday_evening_plus_thirty_minutes_of_business_hours_is_monday_morning():
    friday = local(SHANGHAI, 2026, 11, 6, 17, 50)  # a Friday
    due = office().add(friday, timedelta(minutes=30))
    assert due == local(SHANGHAI, 2026, 11, 9, 9, 20)
    assert office().working_between(friday, due) == timedelta(minutes=30)


def test_time_outside_the_hours_starts_counting_at_the_next_opening():
    sunday_night = local(SHANGHAI, 2026, 11, 8, 23, 0)
    assert office().add(sunday_night, timedelta(hours=2)) == local(SHANGHAI, 2026, 11, 9, 11, 0)


def test_a_lunch_break_is_not_working_time():
    cal = office(hours=((time(8, 30), time(12)), (time(13), time(18))))
    assert cal.add(local(SHANGHAI, 2026, 11, 9, 11, 30), timedelta(hours=2)) == \
        local(SHANGHAI, 2026, 11, 9, 14, 30)


def test_national_day_holidays_are_skipped_and_the_substituted_saturday_is_worked():
    # 2026-10-01..07 off in China; Saturday 10-10 is a working day in exchange (调休).
    eve = local(SHANGHAI, 2026, 9, 30, 17, 30)
    assert office().add(eve, timedelta(hours=1)) == local(SHANGHAI, 2026, 10, 8, 9, 30)
    friday = local(SHANGHAI, 2026, 10, 9, 17, 30)
    assert office().add(friday, timedelta(hours=1)) == local(SHANGHAI, 2026, 10, 10, 9, 30)
    # Without the country's calendar the Saturday is a day off and the holidays are worked.
    assert office(country=None).add(friday, timedelta(hours=1)) == \
        local(SHANGHAI, 2026, 10, 12, 9, 30)
    assert office(country=None).add(eve, timedelta(hours=1)) == local(SHANGHAI, 2026, 10, 1, 9, 30)


def test_a_company_holiday_is_skipped():
    cal = office(extra_holidays=frozenset({date(2026, 12, 31)}))
    assert cal.add(local(SHANGHAI, 2026, 12, 30, 17, 0), timedelta(hours=2)) == \
        local(SHANGHAI, 2027, 1, 4, 10, 0)  # 01-01 is New Year, then the weekend


def test_easter_in_berlin_is_skipped_across_the_clock_change():
    # Clocks go forward on Sunday 2026-03-29; Good Friday 04-03 and Easter Monday 04-06 off.
    cal = office("Europe/Berlin", "DE", subdivision="BE", hours=((time(8), time(18)),))
    friday = local(BERLIN, 2026, 3, 27, 17, 0)  # CET, UTC+1
    due = cal.add(friday, timedelta(hours=2))
    assert due == local(BERLIN, 2026, 3, 30, 9, 0)  # CEST, UTC+2
    assert due.astimezone(timezone.utc) == datetime(2026, 3, 30, 7, 0, tzinfo=timezone.utc)
    thursday = local(BERLIN, 2026, 4, 2, 17, 0)
    assert cal.add(thursday, timedelta(hours=2)) == local(BERLIN, 2026, 4, 7, 9, 0)


def test_a_whole_day_of_work_on_the_day_clocks_change_lasts_23_or_25_hours():
    always = BusinessHours(zone="Europe/Berlin", week={d: ((time(0), None),) for d in range(7)})
    spring = local(BERLIN, 2026, 3, 29, 0, 0)
    assert always.working_between(spring, local(BERLIN, 2026, 3, 30, 0, 0)) == timedelta(hours=23)
    autumn = local(BERLIN, 2026, 10, 25, 0, 0)
    assert always.working_between(autumn, local(BERLIN, 2026, 10, 26, 0, 0)) == timedelta(hours=25)
    # 24 hours of work from midnight before the spring change end at 01:00 the next day.
    assert always.add(spring, timedelta(hours=24)) == local(BERLIN, 2026, 3, 30, 1, 0)


def test_working_hours_that_span_the_skipped_hour_are_an_hour_shorter():
    night = BusinessHours(zone="Europe/Berlin", week={6: ((time(1), time(5)),)})
    sunday = local(BERLIN, 2026, 3, 29, 0, 0)
    assert night.working_between(sunday, local(BERLIN, 2026, 3, 29, 12, 0)) == timedelta(hours=3)


def test_a_calendar_without_working_time_says_so():
    with pytest.raises(NoWorkingTime, match="no working time"):
        BusinessHours(zone="UTC", week={}).add(datetime(2026, 1, 1, tzinfo=timezone.utc),
                                               timedelta(hours=1))
