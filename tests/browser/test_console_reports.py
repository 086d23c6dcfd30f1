"""The reports page and the big screen (大屏) in Chromium, over real incidents and capa
services (NATS, PostgreSQL) and a ManualClock shared with the console: the charts carry the
report APIs' figures (read back from ECharts), the self-check table its verdicts; the wall
counts open incidents, shows the newest P0 large and takes a new P0 from the live feed.
Screenshots go to CLOSEDLOOP_SCREENSHOTS when set (docs/img/console-*.png)."""
from __future__ import annotations

import os
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from shared.clock import ManualClock
from shared.contracts import IncidentStaffed
from tests.browser.test_console_board import sign_in
from tests.harness import PERSON_KEYS, VIEWER_KEY, RunningService, service_app, wait_until
from tests.integration.test_incidents_service import publish

from services.console.main import create_app as console_app
from services.console.settings import ConsoleSettings

pytestmark = [pytest.mark.browser, pytest.mark.integration]
START = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)  # a Tuesday
SOUTH = [{"key": "south", "name": "华南区"}, {"key": "sz-baoan", "name": "深圳宝安店"}]


# The shipped targets, warned at risk half-way.
POLICIES = """
at_risk: 0.5
policies:
  - {severity: P0, respond: 5m, resolve: 4h}
  - {severity: P1, respond: 15m, resolve: 24h}
  - {severity: P2, respond: 1h, resolve: 72h}
  - {severity: P3, respond: 4h, resolve: 7d}
"""


@pytest.fixture
def stack(database_url, nats_url, tmp_path):
    clock = ManualClock(START)
    policies = tmp_path / "sla.yaml"
    policies.write_text(POLICIES, encoding="utf-8")
    incidents = RunningService(service_app(
        "incidents", clock, database_url=database_url, nats_url=nats_url,
        sla_policies_file=str(policies), sla_poll_seconds=0.1)).start()
    capa = RunningService(service_app("capa", clock, database_url=database_url,
                                      nats_url=nats_url)).start()
    # Polling an hour apart: what changes on a page came through the live feed.
    console = RunningService(console_app(ConsoleSettings(
        incidents_url=incidents.url, capa_url=capa.url, board_poll_seconds=3600,
        wall_poll_seconds=3600), clock=clock)).start()
    yield {"clock": clock, "incidents": incidents, "capa": capa, "console": console,
           "nats_url": nats_url}
    for service in (console, capa, incidents):
        service.stop()


def shots_dir(tmp_path: Path) -> Path:
    return Path(os.environ.get("CLOSEDLOOP_SCREENSHOTS") or tmp_path)


def declare(api, severity: str, title: str, entity: str) -> dict:
    answer = api.post("/v1/incidents", json={"severity": severity, "title": title,
                                             "entity": entity, "reporter": "alice"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def series(page, selector: str) -> dict[str, list]:
    """The chart's series as ECharts holds them: {series id: data}."""
    return page.evaluate("""(selector) => {
        const chart = echarts.getInstanceByDom(document.querySelector(selector));
        return Object.fromEntries(chart.getOption().series.map(s => [s.id, s.data]));
    }""", selector)


def test_the_reports_page_charts_the_apis_figures(stack, browser, tmp_path):
    clock, shots = stack["clock"], shots_dir(tmp_path)
    with stack["incidents"].client(PERSON_KEYS["alice"]) as api:
        # A P0 acknowledged after 5 minutes and resolved after an hour; a P1 after 30 minutes.
        p0 = declare(api, "P0", "收银系统全部离线", "深圳宝安店")
        clock.advance(timedelta(minutes=5))
        assert api.post(f"/v1/incidents/{p0['ref']}/acknowledge",
                        json={"by": "alice"}).status_code == 200
        p1 = declare(api, "P1", "会员积分不到账", "广州天河店")
        clock.advance(timedelta(minutes=30))
        assert api.post(f"/v1/incidents/{p1['ref']}/acknowledge",
                        json={"by": "alice"}).status_code == 200
        clock.advance(timedelta(minutes=25))
        assert api.post(f"/v1/incidents/{p0['ref']}/resolve", json={
            "by": "alice", "summary": "路由器重启"}).status_code == 200
        clock.advance(timedelta(minutes=1))  # a report counts what happened before now
        def figures() -> dict | None:  # the report's facts follow the log on their own
            report = api.get("/v1/reports/response-times",
                             params={"from": "2026-11-10", "bucket": "week"}).json()
            points = {p["severity"]: p for p in report["points"]}
            done = len(points) == 2 and points["P1"]["mtta_seconds"] and points["P0"][
                "mttr_seconds"]
            return report if done else None

        times = wait_until(figures, message="the report's figures")
    with stack["capa"].client(PERSON_KEYS["alice"]) as capa:  # the P0's case, one action
        case = wait_until(lambda: capa.get("/v1/capa").json()["items"],
                          message="the P0's CAPA case")[0]
        assert capa.post(f"/v1/capa/{case['id']}/actions", json={
            "by": "alice", "kind": "corrective", "title": "路由器加 UPS", "owner": "bob",
            "due_date": "2026-12-08", "acceptance_criteria": "断电 10 分钟收银不掉线"
        }).status_code == 201

        def last_week() -> dict | None:  # the KPIs follow the log: wait for the new action
            kpis = capa.get("/v1/capa/kpis", params={"from": "2026-11-30T00:00:00Z"}).json()
            return kpis if kpis["overall"]["open_actions"]["value"] == 1 else None

        kpis = wait_until(last_week, message="the action among the KPIs")

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, stack["console"].url, PERSON_KEYS["alice"], "alice")
    page.goto(f"{stack['console'].url}/reports?period=4w")
    page.wait_for_function("document.querySelector('#chart-capa-actions canvas') !== null")
    mtta, mttr = series(page, "#chart-mtta"), series(page, "#chart-mttr")
    # Four weekly buckets ending with this one (Monday 2026-11-30): the API's figures, in
    # minutes and hours, in the bucket they belong to; weeks without incidents are gaps.
    assert mtta["P0"] == [None, None, None, 5.0] and mtta["P1"] == [None, None, None, 30.0]
    assert mtta["P2"] == [None] * 4 and mttr["P0"] == [None, None, None, 1.0]
    by_severity = {p["severity"]: p for p in times["points"]}
    assert mtta["P1"][-1] == round(by_severity["P1"]["mtta_seconds"] / 60, 1)
    capa_actions = series(page, "#chart-capa-actions")
    assert capa_actions["open_actions"][-1] == kpis["overall"]["open_actions"]["value"] == 1
    assert capa_actions["open_actions"][:3] == [0, 0, 0]
    rates = series(page, "#chart-capa-rates")
    assert set(rates) == {"on_time_rate", "verification_first_pass_rate",
                          "effectiveness_pass_rate", "recurrence_rate"}

    # The self-check table: the P0's response met its 5 minutes, its line passes.
    respond = page.locator("#self-check tr[data-severity=P0][data-line=respond]")
    expect(respond.locator(".met")).to_have_text("1/1")
    expect(respond.locator(".verdict")).to_have_text("达标")
    expect(respond.locator(".average")).to_have_text("5分")
    expect(page.locator("#closure-rate")).to_contain_text("0/2")
    page.screenshot(path=str(shots / "console-reports-zh.png"), full_page=True)
    page.click("text=English")
    expect(respond.locator(".verdict")).to_have_text("pass")
    page.wait_for_function("document.querySelector('#chart-mtta canvas') !== null")
    assert series(page, "#chart-mtta")["P0"][-1] == 5.0
    page.screenshot(path=str(shots / "console-reports-en.png"), full_page=True)
    page.select_option("select[name=period]", "6m")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**period=6m*")
    page.wait_for_function("document.querySelector('#chart-mtta canvas') !== null")
    monthly = series(page, "#chart-mtta")
    assert len(monthly["P0"]) == 6 and monthly["P0"][-1] == 5.0  # December

    stack["capa"].stop()  # capa away: its charts say so, the incidents' parts stay
    page.reload()
    expect(page.locator(".down")).to_contain_text("capa")
    expect(page.locator("#self-check tr[data-severity=P0][data-line=respond] .met")
           ).to_have_text("1/1")
    page.wait_for_function("document.querySelector('#chart-mtta canvas') !== null")
    assert series(page, "#chart-mtta")["P0"][-1] == 5.0
    assert "Traceback" not in page.content()
    page.close()


def staff(nats_url: str, incident: dict) -> None:
    """The notifier's staffing, published as it would: in a thread of its own, since the
    browser's driver keeps an event loop in this one."""
    worker = threading.Thread(target=publish, args=(nats_url, IncidentStaffed(
        incident_id=incident["id"], ref=incident["ref"], severity=incident["severity"],
        responsible=["li"], accountable=["zhao"], unit_path=SOUTH, at=START)))
    worker.start()
    worker.join()


def test_the_big_screen_counts_shows_the_newest_p0_and_takes_a_new_one_live(
        stack, browser, tmp_path):
    shots, url = shots_dir(tmp_path), stack["console"].url
    with stack["incidents"].client(PERSON_KEYS["alice"]) as api:
        declare(api, "P2", "小票打印机缺纸", "北京朝阳店")
        declare(api, "P1", "会员积分不到账", "广州天河店")
        first = declare(api, "P0", "冷柜温度过高", "深圳宝安店")
        staff(stack["nats_url"], first)
        wait_until(lambda: {"region": "华南区", "open": 1} in api.get(
            "/v1/board/summary").json()["by_region"], message="the P0's region known")
        stack["clock"].advance(timedelta(minutes=3))  # past half its 5 minutes: at risk
        wait_until(lambda: api.get("/v1/board/summary").json()["at_risk"] == 1,
                   message="the P0 warned at risk")

    page = browser.new_page(viewport={"width": 1600, "height": 900})
    sign_in(page, url, VIEWER_KEY, "wall")  # a wall reads with a viewer key
    page.goto(f"{url}/wall")
    expect(page.locator("#tile-open .n")).to_have_text("3")
    expect(page.locator("#tile-p0 .n")).to_have_text("1")
    expect(page.locator("#tile-today-opened .n")).to_have_text("3")
    expect(page.locator(f".p0[data-ref='{first['ref']}'] .title")).to_have_text("冷柜温度过高")
    expect(page.locator(f".p0[data-ref='{first['ref']}']")).to_have_class(re.compile("at-risk"))
    expect(page.locator("#tile-at-risk .n")).to_have_text("1")
    expect(page.locator(f".risk tr[data-ref='{first['ref']}']")).to_contain_text("即将超时")
    page.wait_for_function("document.querySelector('#wall-region canvas') !== null")
    assert [d["value"] for d in series(page, "#wall-severity")["severity"]] == [1, 1, 1, 0]
    assert series(page, "#wall-region")["region"] == [2, 1]  # the most open first
    assert page.evaluate("echarts.getInstanceByDom(document.querySelector('#wall-region'))"
                         ".getOption().yAxis[0].data") == ["未归属区域", "华南区"]
    assert page.locator("form").count() == 0  # read-only: no forms on a wall
    page.screenshot(path=str(shots / "console-wall-zh.png"), full_page=True)

    # A new P0 is declared: the board feed tells the wall (polling is an hour apart here).
    with stack["incidents"].client(PERSON_KEYS["alice"]) as api:
        newest = declare(api, "P0", "收银系统全部离线", "深圳南山店")
    expect(page.locator(".p0s .p0").first).to_have_attribute("data-ref", newest["ref"],
                                                             timeout=20_000)
    expect(page.locator("#tile-p0 .n")).to_have_text("2")
    expect(page.locator("#tile-open .n")).to_have_text("4")
    page.wait_for_function("echarts.getInstanceByDom(document.querySelector("
                           "'#wall-severity')).getOption().series[0].data[0].value === 2")
    page.click("text=English")
    expect(page.locator("#tile-p0 .k")).to_have_text("Open P0")
    page.screenshot(path=str(shots / "console-wall-en.png"), full_page=True)
    page.close()


def test_the_board_filters_by_unit_owner_and_dates_and_marks_an_at_risk_card(
        stack, browser):
    clock, url = stack["clock"], stack["console"].url
    with stack["incidents"].client(PERSON_KEYS["alice"]) as api:
        other = declare(api, "P1", "会员积分不到账", "广州天河店")
        p0 = declare(api, "P0", "冷柜温度过高", "深圳宝安店")
        staff(stack["nats_url"], p0)  # under 华南区, li responsible
        clock.advance(timedelta(minutes=3))  # past half its 5 minutes to respond: at risk
        wait_until(lambda: any(c["ref"] == p0["ref"] for c in api.get(
            "/v1/board/summary").json()["at_risk_cards"]), message="the P0 warned at risk")

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    sign_in(page, url, PERSON_KEYS["alice"], "alice")
    card = page.locator(f"a.card[data-ref='{p0['ref']}']")
    expect(card).to_have_class(re.compile(r"\bat-risk\b"))
    expect(card.locator(".flag")).to_have_text("即将超时")
    expect(page.locator(f"a.card[data-ref='{other['ref']}']")).not_to_have_class(
        re.compile(r"\bat-risk\b"))

    def shown(**filters: str) -> set[str]:
        page.goto(f"{url}/?{urlencode(filters)}")
        for name, value in filters.items():  # the form keeps what was asked
            expect(page.locator(f"form.filters [name='{name}']")).to_have_value(value)
        return set(page.locator("a.card").evaluate_all("cards => cards.map(c => c.dataset.ref)"))

    assert shown(unit="华南区") == {p0["ref"]}
    assert shown(owner="li") == {p0["ref"]}
    assert shown(**{"from": "2026-12-01", "to": "2026-12-01"}) == {p0["ref"], other["ref"]}
    assert shown(**{"from": "2026-12-02"}) == set()
    assert shown(**{"to": "2026-11-30"}) == set()
    page.goto(f"{url}/?from=2026-12-05&to=2026-12-01")  # the API's refusal, on the page
    expect(page.locator(".refused")).to_contain_text("from")
    page.close()
