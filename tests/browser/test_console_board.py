"""The console in a real browser: incidents, notifier and console over real HTTP, NATS and
PostgreSQL; a responder signs in, sees a declared P0 on the board, opens it, acknowledges it,
and sees its status change; a viewer sees no action forms; the board filters by unit,
owner and dates and marks an at-risk card. Screenshots go to a temporary directory, or to
CLOSEDLOOP_SCREENSHOTS (how docs/img/console-*.png were made)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services.console.main import create_app as console_app
from services.console.settings import ConsoleSettings
from tests.harness import INGEST_KEY, PERSON_KEYS, RunningService, VIEWER_KEY, service_app

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def console(database_url, nats_url):
    incidents = RunningService(service_app("incidents", database_url=database_url,
                                           nats_url=nats_url)).start()
    notifier = RunningService(service_app("notifier", database_url=database_url,
                                          nats_url=nats_url)).start()
    # Polling an hour apart: a card that shows up came through the live feed.
    console = RunningService(console_app(ConsoleSettings(
        incidents_url=incidents.url, notifier_url=notifier.url,
        board_poll_seconds=3600))).start()
    yield {"incidents": incidents, "notifier": notifier, "console": console}
    for service in (console, notifier, incidents):
        service.stop()


def sign_in(page, url: str, key: str, name: str) -> None:
    page.goto(f"{url}/")
    page.fill("input[name=api_key]", key)
    page.fill("input[name=name]", name)
    page.click("button[type=submit]")


def test_a_responder_acknowledges_a_p0_from_the_board(console, browser, tmp_path):
    shots = Path(os.environ.get("CLOSEDLOOP_SCREENSHOTS") or tmp_path)
    url = console["console"].url
    page = browser.new_page()
    sign_in(page, url, PERSON_KEYS["alice"], "alice")
    page.wait_for_selector("[data-status=new]")
    with console["incidents"].client(PERSON_KEYS["alice"]) as api:
        declared = api.post("/v1/incidents", json={
            "severity": "P0", "title": "收银系统全部离线", "entity": "store-017",
            "reporter": "alice"})
        assert declared.status_code == 201, declared.text
    ref = declared.json()["ref"]

    # The open board shows it without a reload: the feed tells the page, htmx re-fetches.
    card = page.locator(f"[data-status=new] a.card[data-ref='{ref}']")
    card.wait_for(timeout=20_000)
    assert "sev-P0" in card.get_attribute("class")
    assert "收银系统全部离线" in card.inner_text() and "store-017" in card.inner_text()
    page.screenshot(path=str(shots / "console-board-zh.png"), full_page=True)

    page.fill("input[name=q]", "收银")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=*")
    expect(page.locator("input[name=q]")).to_have_value("收银")
    expect(page.locator(f"a.card[data-ref='{ref}']")).to_have_count(1)
    page.fill("input[name=q]", "会员积分")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**q=*")
    expect(page.locator("input[name=q]")).to_have_value("会员积分")
    expect(page.locator(f"a.card[data-ref='{ref}']")).to_have_count(0)
    page.goto(f"{url}/")
    card.click()
    page.wait_for_url(f"**/incidents/{ref}")
    assert page.locator("#status").get_attribute("data-status") == "new"
    expect(page.locator(".countdown[data-clock=respond]")).to_contain_text("剩余")
    page.fill("input[name=note]", "门店已重启路由器")
    page.click("form.action button[type=submit]")
    page.wait_for_selector(".done")
    assert page.locator("#status").get_attribute("data-status") == "investigating"
    assert page.locator("#status").inner_text() == "调查中"
    # Answered: the respond clock stops; the resolve clock still counts down.
    expect(page.locator(".countdown[data-clock=respond]")).to_have_count(0)
    expect(page.locator(".countdown[data-clock=resolve]")).to_contain_text("剩余")
    assert "alice" in page.locator(".timeline").inner_text()
    page.screenshot(path=str(shots / "console-incident-zh.png"), full_page=True)

    page.click("text=English")
    expect(page.locator("#status")).to_have_text("Investigating")
    page.goto(f"{url}/")
    investigating = page.locator(f"[data-status=investigating] a.card[data-ref='{ref}']")
    expect(investigating).to_have_count(1, timeout=20_000)
    page.screenshot(path=str(shots / "console-board-en.png"), full_page=True)
    page.goto(f"{url}/incidents/{ref}")
    page.screenshot(path=str(shots / "console-incident-en.png"), full_page=True)
    page.close()
    assert all((shots / f"console-{f}.png").stat().st_size > 0
               for f in ("board-zh", "incident-zh", "board-en", "incident-en"))


def test_a_store_manager_acknowledges_on_a_phone(console, browser, tmp_path):
    shots = Path(os.environ.get("CLOSEDLOOP_SCREENSHOTS") or tmp_path)
    with console["incidents"].client(PERSON_KEYS["bob"]) as api:
        ref = api.post("/v1/incidents", json={"severity": "P0", "title": "冷柜温度过高",
                                              "entity": "深圳宝安店",
                                              "reporter": "bob"}).json()["ref"]
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True)
    page = phone.new_page()
    page.goto(f"{console['console'].url}/incidents/{ref}")  # the link from a message
    page.fill("input[name=api_key]", PERSON_KEYS["bob"])
    page.fill("input[name=name]", "bob")
    page.click("button[type=submit]")
    page.wait_for_url(f"**/incidents/{ref}")  # back where the link pointed
    button = page.locator("form.action button[type=submit]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    page.screenshot(path=str(shots / "console-incident-phone.png"), full_page=True)
    button.tap()
    expect(page.locator("#status")).to_have_attribute("data-status", "investigating")
    phone.close()


def test_a_refusal_is_shown_next_to_the_form_and_a_service_down_on_the_page(
        console, browser):
    with console["incidents"].client(PERSON_KEYS["bob"]) as api:
        ref = api.post("/v1/incidents", json={"severity": "P1", "title": "会员积分不到账",
                                              "entity": "store-002",
                                              "reporter": "bob"}).json()["ref"]
    url = console["console"].url
    page = browser.new_page()
    sign_in(page, url, "not-a-key-anyone-knows-4f2a", "mallory")
    expect(page.locator(".refused")).to_contain_text("密钥无效")
    sign_in(page, url, INGEST_KEY, "robot")  # known, but may not read incidents
    expect(page.locator(".refused")).to_contain_text("ingest")
    sign_in(page, url, VIEWER_KEY, "carol")  # a viewer may read, and sees no action forms
    expect(page.locator("header .role")).to_have_attribute("data-role", "viewer")
    page.goto(f"{url}/incidents/{ref}")
    expect(page.locator("#status")).to_have_attribute("data-status", "new")
    expect(page.locator("main form")).to_have_count(0)
    page.click("header form button[type=submit]")  # sign out
    sign_in(page, url, PERSON_KEYS["bob"], "alice")  # bob's key: it acts as bob only
    expect(page.locator("header .who")).to_contain_text("bob")
    page.goto(f"{url}/incidents/{ref}")
    page.fill("form.action input[name=by]", "alice")
    page.click("form.action button[type=submit]")
    # The API's own words next to the form: whose key it is.
    expect(page.locator("form.action .refused")).to_contain_text("belongs to bob")
    assert page.locator("#status").get_attribute("data-status") == "new"

    console["incidents"].stop()
    page.goto(f"{url}/")
    expect(page.locator(".down")).to_contain_text("incidents")
    assert "Traceback" not in page.content()
