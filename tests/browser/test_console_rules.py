"""A manager backtests a rule in a real browser and reads the chart: detector, incidents and
console over real HTTP, NATS and PostgreSQL. An older version of the rule is replayed over
the stored samples of 深圳宝安店 with one labelled window; the page shows the precision,
false-positive and miss rates, and the ECharts chart holds the series, the two alerts the
version would have raised and the window. Screenshots as in test_console_board.py."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect

from services.console.main import create_app as console_app
from services.console.settings import ConsoleSettings
from tests.harness import ADMIN_KEY, MANAGER_KEY, RunningService, service_app, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]
HOUR = 3600
STORE = "深圳宝安店"
SHALLOW, DEEP = 20, 50   # the hours of the two dips: orders 40, then 20


@pytest.fixture
def stack(database_url, nats_url):
    incidents = RunningService(service_app("incidents", database_url=database_url,
                                           nats_url=nats_url)).start()
    detector = RunningService(service_app("detector", database_url=database_url,
                                          nats_url=nats_url)).start()
    console = RunningService(console_app(ConsoleSettings(
        incidents_url=incidents.url, detector_url=detector.url))).start()
    yield {"incidents": incidents, "detector": detector, "console": console}
    for service in (console, detector, incidents):
        service.stop()


def orders(t0: int) -> tuple[list[int], list[float]]:
    """72 hours of a store's orders: about 100 an hour, 40 at one hour, 20 at another."""
    values = [100.0 + k % 5 for k in range(72)]
    values[SHALLOW], values[DEEP] = 40.0, 20.0
    return [t0 + HOUR * k for k in range(72)], values


def a_rule_with_two_versions_and_history(detector) -> tuple[dict, int]:
    t0 = (int(time.time()) // HOUR - 80) * HOUR
    with detector.client(ADMIN_KEY) as admin:
        assert admin.put("/v1/metrics/catalogue", json=[{
            "name": "store.orders.hourly", "interval": "1h",
            "retention": "400d"}]).status_code == 200
        rule = {"name": "订单骤降", "metric": "store.orders.hourly", "severity": "P1",
                "when": {"value": {}, "below": 50}}
        created = admin.post("/v1/rules", json=rule)
        assert created.status_code == 201, created.text
        # Version 2 only fires under 30: the shallow dip no longer counts.
        changed = admin.put(f"/v1/rules/{created.json()['id']}",
                            json={**rule, "when": {"value": {}, "below": 30}})
        assert changed.status_code == 200 and changed.json()["version"] == 2, changed.text
        ts, values = orders(t0)
        sent = admin.post("/v1/samples", json={"series": [{
            "metric": "store.orders.hourly", "entity": STORE, "labels": {},
            "ts": ts, "values": values}]})
        assert sent.status_code == 200, sent.text
    return created.json(), t0


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat()


def sign_in(page, url: str, key: str, name: str, path: str = "/") -> None:
    page.goto(f"{url}{path}")
    page.fill("input[name=api_key]", key)
    page.fill("input[name=name]", name)
    page.click("button[type=submit]")


def chart(page) -> dict:
    """The option ECharts is drawing, as the page holds it."""
    return page.evaluate("""() => {
        const option = echarts.getInstanceByDom(document.getElementById('backtest-chart'))
                              .getOption();
        return {series: option.series.map(s => ({name: s.name, type: s.type, data: s.data,
                                                  areas: s.markArea ? s.markArea.data : []}))};
    }""")


def test_a_manager_backtests_an_older_version_and_reads_the_chart(stack, browser, tmp_path):
    shots = Path(os.environ.get("CLOSEDLOOP_SCREENSHOTS") or tmp_path)
    rule, t0 = a_rule_with_two_versions_and_history(stack["detector"])
    with stack["detector"].client(MANAGER_KEY) as api:   # the live rule (v2) fired once
        wait_until(lambda: any(h["rule_id"] == rule["id"] and h["raised"] >= 1
                               for h in api.get("/v1/rules/health").json()), 30,
                   "the live rule's alert never reached its health")
        health = next(h for h in api.get("/v1/rules/health").json()
                      if h["rule_id"] == rule["id"])
    url = stack["console"].url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, url, MANAGER_KEY, "zhou.manager", "/rules")
    page.wait_for_url("**/rules")
    row = page.locator(f"tr[data-rule='{rule['name']}']")
    expect(row).to_contain_text("v2")
    assert row.locator("[data-field=alerts_per_day]").inner_text() == str(
        health["alerts_per_day"])
    assert row.locator("[data-field=suppressed]").inner_text() == str(health["suppressed"])
    page.screenshot(path=str(shots / "console-rules-zh.png"), full_page=True)

    # A form posted without the session's CSRF token starts nothing.
    forged = page.request.post(f"{url}/rules/{rule['id']}/backtest", form={"version": "1"},
                               max_redirects=0)
    assert forged.status == 403 and "job=" not in forged.url

    row.locator("a").click()
    page.wait_for_url(f"**/rules/{rule['id']}")
    expect(page.locator("table.versions tr[data-version]")).to_have_count(2)
    page.select_option("select[name=version]", "1")
    page.fill("input[name=start]", datetime.fromtimestamp(t0 - HOUR, tz=timezone.utc)
              .strftime("%Y-%m-%dT%H:%M"))
    deep = t0 + DEEP * HOUR
    # A window without its end: the detector's refusal shows next to the windows field.
    page.fill("textarea[name=windows]", json.dumps([{"start": iso(deep - HOUR)}]))
    page.click("form.backtest button[type=submit]")
    expect(page.locator(".field-error[data-field=windows]")).to_contain_text("end")
    expect(page.locator("select[name=version]")).to_have_value("1")   # the form is kept

    window = {"start": iso(deep - HOUR), "end": iso(deep + 2 * HOUR), "entity": STORE}
    page.fill("textarea[name=windows]", json.dumps([window], ensure_ascii=False))
    page.click("form.backtest button[type=submit]")
    page.wait_for_selector("#backtest[data-state=done]", timeout=60_000)
    page.wait_for_function("() => echarts.getInstanceByDom("
                           "document.getElementById('backtest-chart'))")

    # Version 1 (under 50) raises at both dips; only the deep one lies in the window.
    scores = {k: page.locator(f"[data-score={k}]").inner_text() for k in (
        "precision", "false_positive_rate", "miss_rate", "alerts", "detected_windows")}
    assert scores == {"precision": "50.0%", "false_positive_rate": "50.0%",
                      "miss_rate": "0.0%", "alerts": "2", "detected_windows": "1 / 1"}
    drawn = chart(page)
    (line,) = [s for s in drawn["series"] if s["name"] == STORE]
    ts, values = orders(t0)
    assert line["data"] == [[t * 1000, v] for t, v in zip(ts, values)]
    (pins,) = [s for s in drawn["series"] if s["type"] == "scatter"]
    assert [p["value"] for p in pins["data"]] == [[(t0 + SHALLOW * HOUR) * 1000, 40],
                                                  [deep * 1000, 20]]
    (shaded,) = [s for s in drawn["series"] if s["areas"]]
    assert [[a[0]["xAxis"], a[1]["xAxis"]] for a in shaded["areas"]] == [
        [(deep - HOUR) * 1000, (deep + 2 * HOUR) * 1000]]
    page.screenshot(path=str(shots / "console-backtest-zh.png"), full_page=True)

    page.click("text=English")
    page.wait_for_selector("#backtest[data-state=done]", timeout=30_000)
    expect(page.locator("[data-score=precision]")).to_have_text("50.0%")
    expect(page.locator("form.backtest button[type=submit]")).to_have_text("Run backtest")
    page.wait_for_function("() => echarts.getInstanceByDom("
                           "document.getElementById('backtest-chart'))")
    page.screenshot(path=str(shots / "console-backtest-en.png"), full_page=True)

    # The current version (under 30) keeps only the true alert.
    page.select_option("select[name=version]", "2")
    page.click("form.backtest button[type=submit]")
    page.wait_for_selector("#backtest[data-state=done]", timeout=60_000)
    expect(page.locator("[data-score=precision]")).to_have_text("100.0%")
    expect(page.locator("[data-score=alerts]")).to_have_text("1")
    page.goto(f"{url}/rules")
    page.screenshot(path=str(shots / "console-rules-en.png"), full_page=True)
    page.close()


def test_a_stopped_detector_shows_on_the_rules_page_only(stack, browser):
    url = stack["console"].url
    page = browser.new_page()
    sign_in(page, url, MANAGER_KEY, "zhou.manager")
    stack["detector"].stop()
    page.goto(f"{url}/rules")
    expect(page.locator(".down")).to_contain_text("detector")
    assert "Traceback" not in page.content()
    page.goto(f"{url}/")   # the board needs the incidents service only
    expect(page.locator("[data-status=new]")).to_have_count(1)
    expect(page.locator(".down")).to_have_count(0)
    page.close()
