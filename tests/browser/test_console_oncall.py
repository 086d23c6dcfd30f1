"""The on-call page in a real browser: notifier (on a ManualClock: Monday 2 November 2026,
17:00 in Shanghai), incidents and console over real HTTP, NATS and PostgreSQL. 华南值班
rotates daily between sun.li and zhou.min; an override puts li.na in zhou.min's place this
evening. The page says who is on call now (per schedule and per unit) and shows the week."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services.console.main import create_app as console_app
from services.console.settings import ConsoleSettings
from shared.clock import ManualClock
from tests.harness import MANAGER_KEY, VIEWER_KEY, RunningService, service_app
from tests.integration.test_notifier_service import start_notifier

pytestmark = [pytest.mark.browser, pytest.mark.integration]
SCHEDULE = {"name": "华南值班", "time_zone": "Asia/Shanghai", "description": "华南战区运营值班",
            "layers": [{"name": "daily", "rotation": "daily", "handoff_time": "09:00",
                        "start": "2026-11-01T09:00", "members": ["sun.li", "zhou.min"]}]}


@pytest.fixture
def stack(database_url, nats_url):
    incidents = RunningService(service_app("incidents", database_url=database_url,
                                           nats_url=nats_url)).start()
    notifier = start_notifier(database_url, nats_url, ManualClock())
    console = RunningService(console_app(ConsoleSettings(
        incidents_url=incidents.url, notifier_url=notifier.url))).start()
    yield {"incidents": incidents, "notifier": notifier, "console": console}
    for service in (console, notifier, incidents):
        service.stop()


def organisation(notifier) -> None:
    with notifier.client(MANAGER_KEY) as manager:
        for handle, name in (("zhao.lei", "赵磊"), ("sun.li", "孙丽"), ("zhou.min", "周敏"),
                             ("li.na", "李娜")):
            made = manager.post("/v1/people", json={"handle": handle, "name": name})
            assert made.status_code == 201, made.text
        assert manager.post("/v1/schedules", json=SCHEDULE).status_code == 201
        override = manager.post("/v1/schedules/华南值班/overrides", json={
            "kind": "replace", "person": "zhou.min", "by": "li.na",
            "start": "2026-11-02T16:00:00+08:00", "end": "2026-11-02T22:00:00+08:00",
            "note": "门店巡检"})
        assert override.status_code == 201, override.text
        unit = manager.post("/v1/units", json={"key": "south", "name": "华南战区",
                                               "roles": {"战区负责人": ["zhao.lei"],
                                                         "战区运营": ["sun.li"]}})
        assert unit.status_code == 201, unit.text
        team = manager.post("/v1/teams", json={"name": "华南运营",
                                               "members": ["sun.li", "zhou.min"],
                                               "schedule": "华南值班"})
        assert team.status_code == 201, team.text


def pieces(cell) -> list[tuple[str, str, bool]]:
    return [(s.get_attribute("data-handle"), s.locator(".hours").inner_text(),
             "override" in s.get_attribute("class")) for s in cell.locator(".shift").all()]


def test_the_on_call_page_shows_who_now_and_the_week(stack, browser, tmp_path):
    shots = Path(os.environ.get("CLOSEDLOOP_SCREENSHOTS") or tmp_path)
    organisation(stack["notifier"])
    url = stack["console"].url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/oncall")
    page.fill("input[name=api_key]", VIEWER_KEY)
    page.fill("input[name=name]", "carol")
    page.click("button[type=submit]")
    page.wait_for_url("**/oncall")

    now = page.locator(".schedule-now[data-schedule='华南值班']")
    expect(now.locator(".person")).to_have_count(1)
    person = now.locator(".person[data-handle='li.na']")
    assert "override" in person.get_attribute("class")
    expect(person).to_contain_text("11-02 22:00")   # until, on Shanghai's clock
    expect(now.locator("[data-aside='zhou.min']")).to_have_count(1)
    # 华南战区: its role holders, and its team's on-call person (li.na, by the override).
    unit = page.locator("tr[data-unit=south]")
    handles = [c.get_attribute("data-handle") for c in unit.locator(".chip").all()]
    assert set(handles) == {"zhao.lei", "sun.li", "li.na"}

    week = page.locator("table.week[data-schedule='华南值班']")
    expect(week.locator("td[data-date]")).to_have_count(7)
    monday = week.locator("td[data-date='2026-11-02']")
    assert pieces(monday) == [("sun.li", "00:00–09:00", False),
                              ("zhou.min", "09:00–16:00", False),
                              ("li.na", "16:00–22:00", True),
                              ("zhou.min", "22:00–24:00", False)]
    assert pieces(week.locator("td[data-date='2026-11-03']")) == [
        ("zhou.min", "00:00–09:00", False), ("sun.li", "09:00–24:00", False)]
    expect(week.locator("th").first).to_contain_text("周一")
    page.screenshot(path=str(shots / "console-oncall-zh.png"), full_page=True)

    page.click("text=English")
    expect(week.locator("th").first).to_contain_text("Mon")
    page.screenshot(path=str(shots / "console-oncall-en.png"), full_page=True)
    page.click(".weeks >> text=Next week")
    page.wait_for_url("**week=1")
    next_monday = page.locator("table.week td[data-date='2026-11-09']")
    assert pieces(next_monday)[0][1] == "00:00–09:00"
    expect(page.locator(".shift.override")).to_have_count(0)   # the override was last week

    stack["notifier"].stop()
    page.goto(f"{url}/oncall")
    expect(page.locator(".down")).to_contain_text("notifier")
    page.goto(f"{url}/")   # the board still works without the notifier
    expect(page.locator(".down")).to_have_count(0)
    page.close()
