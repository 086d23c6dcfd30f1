"""The whole loop in a real browser, on the four services over real HTTP, NATS and
PostgreSQL: a P0 raised by a falling metric appears on an open board, a responder opens it,
reads the metric's chart, acknowledges, works the checklist, posts progress, is refused a
downgrade, resolves it, records the root cause (5 whys and fishbone) and two actions; each
owner completes theirs, the other person verifies it (the owner's own try is refused); the
effectiveness window passes on the services' clocks and the board shows the incident closed.
Screenshots of the incident with its CAPA go to CLOSEDLOOP_SCREENSHOTS (docs/img) when set."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import expect

from closedloop.demo import DEMO_WINDOWS
from services.console.main import create_app as console_app
from services.console.settings import ConsoleSettings
from tests.browser.test_console_board import sign_in
from tests.harness import (ADMIN_KEY, NOTIFIER_SAFETY, PERSON_KEYS, RunningService,
                           service_app, wait_until)

pytestmark = [pytest.mark.browser, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("detector", "incidents", "notifier", "capa")


@pytest.fixture
def stack(database_url, nats_url):
    # Clocks that move (the effectiveness window passes in a step) and a short window.
    common = dict(database_url=database_url, nats_url=nats_url, clock_adjustable=True)
    extra = {"notifier": NOTIFIER_SAFETY, "capa": {"effectiveness_windows": DEMO_WINDOWS},
             "incidents": {"checklists_file": str(ROOT / "examples/checklists/p0.yaml")}}
    running = {name: RunningService(service_app(name, **common, **extra.get(name, {}))).start()
               for name in SERVICES}
    running["console"] = RunningService(console_app(ConsoleSettings(
        board_poll_seconds=3600, **{f"{n}_url": running[n].url for n in SERVICES}))).start()
    yield running
    for service in running.values():
        if service.thread.is_alive():
            service.stop()


def nps_rule(detector: RunningService) -> str:
    metric = f"store.nps.{uuid.uuid4().hex[:6]}"
    with detector.client(ADMIN_KEY) as api:
        api.put("/v1/metrics/catalogue", json=[{"name": metric, "interval": "1h",
                                                 "unit": "NPS"}]).raise_for_status()
        rule = api.post("/v1/rules", json={
            "name": f"NPS collapse {metric}", "metric": metric, "severity": "P0",
            "when": {"value": {}, "below": 50}, "description": "hourly NPS under 50"})
        assert rule.status_code == 201, rule.text
    return metric


def reload_until(page, selector: str, timeout: float = 30.0) -> None:
    """Some parts arrive over the bus (the CAPA case opens after the resolve is heard)."""
    def there() -> bool:
        page.reload()
        return page.locator(selector).count() > 0
    wait_until(there, timeout, f"{selector} on {page.url}", interval=0.5)


def test_a_p0_runs_from_the_board_to_closed_in_the_browser(stack, browser, tmp_path):
    shots = Path(os.environ.get("CLOSEDLOOP_SCREENSHOTS") or tmp_path)
    url = stack["console"].url
    metric = nps_rule(stack["detector"])
    alice = browser.new_page()
    sign_in(alice, url, PERSON_KEYS["alice"], "alice")
    alice.wait_for_selector("[data-status=new]")

    # Three good hours, then NPS collapses: the detector raises a P0 while the board is open.
    now = datetime.now(timezone.utc)
    with stack["detector"].client(ADMIN_KEY) as api:
        for hours_ago, value in ((3, 72), (2, 70), (1, 71), (0, 42)):
            sent = api.post("/v1/samples", json={"samples": [{
                "metric": metric, "entity": "深圳宝安店", "value": value,
                "ts": (now - timedelta(hours=hours_ago)).isoformat()}]})
            assert sent.status_code == 200, sent.text
    card = alice.locator("[data-status=new] a.card.sev-P0", has_text="深圳宝安店")
    card.wait_for(timeout=30_000)  # live: the board polls only hourly here
    ref = card.get_attribute("data-ref")
    card.click()
    alice.wait_for_url(f"**/incidents/{ref}")

    # The alert with its metric charted around it, the bound it crossed drawn.
    expect(alice.locator("#alerts .chart[data-drawn=true]")).to_have_count(1)
    option = alice.locator("#alerts .chart").get_attribute("data-chart")
    assert '"yAxis": 50' in option and "42" in option
    expect(alice.locator("#alerts .chart svg")).to_have_count(1)

    alice.fill("form.action input[name=note]", "门店已启用备用收银")
    alice.click("form.action button:has-text('确认接手')")
    expect(alice.locator("#status")).to_have_attribute("data-status", "investigating")

    # The checklist's first item, a progress update, and a downgrade a responder may not make.
    first = alice.locator("#check li.item").first
    item = first.get_attribute("data-item")
    first.locator("input[name=note]").fill("已致电店长李娜")
    first.locator("button").click()
    expect(alice.locator(f"#check li[data-item={item}]")).to_have_attribute("data-state", "done")
    alice.fill("form.form-progress textarea[name=text]", "收银恢复中，预计30分钟内完成")
    alice.fill("form.form-progress input[name=next_update_in]", "30m")
    alice.click("form.form-progress button")
    expect(alice.locator("p.done")).to_have_text("进展已发布。")
    alice.select_option("form.form-severity select[name=severity]", "P2")
    alice.fill("form.form-severity input[name=reason]", "影响比预想小")
    alice.click("form.form-severity button")
    refusal = alice.locator("form.form-severity .refused[data-field=severity]")
    expect(refusal).to_contain_text("manager")  # the API's own words, next to the field
    assert alice.locator("h1 .sev-badge").inner_text() == "P0"
    assert "Traceback" not in alice.content()

    # A form posted without the session's CSRF token is refused and changes nothing.
    forged = alice.request.post(f"{url}/incidents/{ref}/do/resolve", form={
        "by": "alice", "summary": "forged", "verdict": "false_positive"})
    assert forged.status == 403
    alice.reload()
    expect(alice.locator("#status")).to_have_attribute("data-status", "investigating")

    alice.fill("form.form-resolve textarea[name=summary]", "备用收银机上线，NPS 回升")
    alice.click("form.form-resolve button")
    expect(alice.locator("#status")).to_have_attribute("data-status", "planning")

    # The CAPA case opens once capa hears of the resolution.
    reload_until(alice, "form.form-root-cause")
    whys = ["顾客结账排队25分钟", "五台收银机两台无人", "排班表周末少排两名收银员",
            "排班不参考客流预测", "排班流程没有检查客流预测的步骤"]
    alice.fill("form.form-root-cause input[name=statement]", "周末排班未参考客流预测")
    for i, why in enumerate(whys, start=1):
        alice.fill(f"form.form-root-cause input[name=why{i}]", why)
    alice.select_option("form.form-root-cause select[name=category]", "method")
    alice.fill("form.form-root-cause textarea[name=factors_man]", "新店长不熟悉排班工具")
    alice.fill("form.form-root-cause textarea[name=factors_method]", "排班流程缺少预测检查")
    alice.click("form.form-root-cause button")
    expect(alice.locator(".root-cause ol.whys li")).to_have_count(5)
    expect(alice.locator(".root-cause .factors")).to_contain_text("排班流程缺少预测检查")

    today = datetime.now(timezone.utc).date().isoformat()
    for kind, title, owner, criteria in (
            ("corrective", "按客流预测重排周末班次", "alice", "四个周末高峰收银全开"),
            ("preventive", "排班工具加入客流预测检查", "bob", "低于预测人手的排班无法发布")):
        form = alice.locator("form.form-action")
        form.locator("select[name=kind]").select_option(kind)
        form.locator("input[name=title]").fill(title)
        form.locator("input[name=owner]").fill(owner)
        form.locator("input[name=due_date]").fill(today)
        form.locator("input[name=acceptance_criteria]").fill(criteria)
        form.locator("button").click()
        expect(alice.locator("p.done")).to_have_text("措施已新增。")
    rows = alice.locator("tr.capa-action")
    expect(rows).to_have_count(2)
    a1, a2 = (rows.nth(i).get_attribute("data-action") for i in range(2))

    # Each owner completes their own action.
    alice.locator(f"tr[data-action='{a1}'] input[name=evidence]").fill("第7版排班表已发布")
    alice.locator(f"tr[data-action='{a1}'] form.form-complete button").click()
    expect(alice.locator(f"tr[data-action='{a1}']")).to_have_attribute("data-status", "completed")
    # Her own action: verification needs someone else, and the page says so at the field.
    alice.locator(f"tr[data-action='{a1}'] form.form-verify button").click()
    expect(alice.locator(f"tr[data-action='{a1}'] .refused[data-field=verifier]")
           ).to_contain_text("someone else")
    expect(alice.locator(f"tr[data-action='{a1}']")).to_have_attribute("data-status", "completed")

    # bob works from his phone.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True)
    bob = phone.new_page()
    sign_in(bob, url, PERSON_KEYS["bob"], "bob")
    bob.goto(f"{url}/incidents/{ref}")
    assert bob.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    bob.locator(f"tr[data-action='{a2}'] input[name=evidence]").fill("排班工具 3.2 版已上线")
    bob.locator(f"tr[data-action='{a2}'] form.form-complete button").click()
    bob.locator(f"tr[data-action='{a1}'] input[name=note]").fill("现场核对两个周末")
    bob.locator(f"tr[data-action='{a1}'] form.form-verify button").click()
    expect(bob.locator(f"tr[data-action='{a1}']")).to_have_attribute("data-status", "verified")
    alice.goto(f"{url}/incidents/{ref}")
    alice.locator(f"tr[data-action='{a2}'] form.form-verify button").click()
    expect(alice.locator(f"tr[data-action='{a2}']")).to_have_attribute("data-status", "verified")

    # Every action verified: the effectiveness window runs; the services' clocks pass its end.
    expect(alice.locator("#capa-status")).to_have_attribute("data-status", "effectiveness")
    ends = datetime.fromisoformat(alice.locator(".effectiveness").get_attribute("data-ends"))
    with stack["capa"].client(ADMIN_KEY) as api:
        step = (ends - datetime.fromisoformat(api.get("/v1/clock").json()["now"])
                ).total_seconds() + 1
    for name in SERVICES:
        with stack[name].client(ADMIN_KEY) as api:
            api.post("/v1/clock/advance", json={"seconds": step}).raise_for_status()
    reload_until(alice, "#status[data-status=closed]")
    # What was learnt becomes a knowledge entry, which the page then recommends, saying why.
    with stack["incidents"].client(ADMIN_KEY) as api:
        case = api.get(f"/v1/incidents/{ref}").json()["capa_id"]
    with stack["capa"].client(PERSON_KEYS["alice"]) as api:
        written = api.post("/v1/knowledge", json={
            "by": "alice", "capa_id": case, "symptom": "门店 NPS 周末骤降，结账排队",
            "tags": ["排班", "NPS"]})
        assert written.status_code == 201, written.text
    reload_until(alice, ".knowledge-entry")
    why = alice.locator(".knowledge-entry .meta")
    expect(why).to_contain_text("同一规则")  # the same rule and store as this incident
    expect(why).to_contain_text("深圳宝安店")
    postmortem = alice.request.get(f"{url}/incidents/{ref}/postmortem")
    assert postmortem.ok and "周末排班未参考客流预测" in postmortem.text()
    assert postmortem.headers["content-type"].startswith("text/html")
    alice.goto(f"{url}/incidents/{ref}")
    expect(alice.locator("#capa-status")).to_have_attribute("data-status", "closed")
    timeline = alice.locator(".timeline").inner_text()
    for said in ("alice 确认接手", "alice 记录了根因", "bob 验证了整改措施", "闭环关闭"):
        assert said in timeline, timeline
    alice.screenshot(path=str(shots / "console-capa-zh.png"), full_page=True)
    alice.click("text=English")
    expect(alice.locator("#capa-status")).to_have_text("closed")
    assert "acknowledged" in alice.locator(".timeline").inner_text()
    alice.screenshot(path=str(shots / "console-capa-en.png"), full_page=True)

    # The board shows it closed.
    alice.goto(f"{url}/")
    expect(alice.locator(f"[data-status=closed] a.card[data-ref='{ref}']")).to_have_count(1)

    # capa and detector stop: their parts say so; the incident and its timeline still show.
    stack["capa"].stop()
    stack["detector"].stop()
    alice.goto(f"{url}/incidents/{ref}")
    expect(alice.locator("#capa .down")).to_contain_text("capa")
    expect(alice.locator("#knowledge .down")).to_contain_text("capa")
    expect(alice.locator("#alerts .down")).to_contain_text("detector")
    expect(alice.locator(".timeline")).to_contain_text("alice")
    expect(alice.locator("#status")).to_have_attribute("data-status", "closed")
    assert "Traceback" not in alice.content()
    alice.close()
    phone.close()
