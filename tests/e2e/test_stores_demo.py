"""The stores story through four running services over real HTTP, NATS and PostgreSQL, their
clocks adjustable: the store network is applied, a red alert on 深圳宝安店 opens a P0, and the
table says who was told, when (the deliveries' own times, from the opening) and why, then
what each of them read. Two minor alerts page nobody and reach the 店长 and the 战区运营 in
the next morning's 09:00 daily report. The minutes and hours are the services' clocks moved
forward, never slept."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from closedloop.demo import DEMO_SECRET, wait_for
from closedloop.demo_messages import print_messages, print_reports
from closedloop.demo_stores import StoresDemo, print_table
from closedloop.embedded.ports import free_port
from closedloop.stack import StackInfo
from services.capa.main import create_app as capa_app
from services.capa.settings import CapaSettings
from services.detector.main import create_app as detector_app
from services.detector.settings import DetectorSettings
from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from services.notifier.main import create_app as notifier_app
from services.notifier.settings import NotifierSettings
from tests.harness import (
    ACK_LINK_KEY, API_KEYS, NOTIFIER_SAFETY, OPERATOR, OPERATOR_KEY, RunningService,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(database_url, nats_url):
    common = dict(database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
                  clock_adjustable=True)
    # Links in messages point at the incidents service (no gateway in front of it here):
    # its acknowledge links are signed by the notifier with the key it checks them with.
    incidents_port = free_port()
    links = dict(ack_link_key=ACK_LINK_KEY, public_url=f"http://127.0.0.1:{incidents_port}")
    services = {
        "detector": RunningService(detector_app(DetectorSettings(**common))),
        "incidents": RunningService(incidents_app(IncidentsSettings(
            **common, ack_link_key=ACK_LINK_KEY)), port=incidents_port),
        "notifier": RunningService(notifier_app(NotifierSettings(
            **common, **NOTIFIER_SAFETY, **links))),
        "capa": RunningService(capa_app(CapaSettings(**common))),
    }
    for service in services.values():
        service.start()
    yield StackInfo(urls={n: s.url for n, s in services.items()}, api_key=OPERATOR_KEY,
                    nats_url=nats_url, database_url=database_url, operator=OPERATOR)
    for service in services.values():
        service.stop()


def test_a_red_alert_on_a_store_tells_who_when_and_why(stack, capsys):
    demo = StoresDemo(stack)
    # Another demo's P0 policy on the same stack (the NPS story's, with its 2-second step)
    # would merge into the ladder: it is paused while the story plays.
    nps_room = demo.call("notifier", "POST", "/v1/channels", json={
        "name": "demo nps-room", "url": demo.receiver.url("/nps"), "secret": DEMO_SECRET})
    nps = demo.call("notifier", "POST", "/v1/policies", json={
        "name": "demo P0 store incidents", "severities": ["P0"],
        "steps": [{"targets": [{"kind": "channel", "ref": nps_room["id"]}], "delay_seconds": 2}]})
    try:
        rows = demo.run()
        received_by_then = list(demo.receiver.received)
        # enabled again (the policies' read model may be a moment behind)
        nps_after = wait_for("the NPS policy enabled again",
                             lambda: demo.policies()[nps["name"]]["enabled"] and
                             demo.policies()[nps["name"]])
        read = demo.messages(rows)
        reports = demo.daily_report()
    finally:
        demo.close()
    assert nps_after["enabled"] is True
    assert not any(r["path"] == "/nps" for r in demo.receiver.received)
    hq = f"总部 (demo hq-room{demo.suffix})"

    def minute(row: dict) -> int:
        return int(row["after_seconds"] // 60)

    told = [(r["who"], minute(r), r["reason"], r["target"]) for r in rows]
    at_once = {(who, reason, target) for who, m, reason, target in told if m == 0}
    # The ladder's first step (店长, 战区运营, 总部's room) and the RACI people, all at once.
    assert at_once == {
        ("李娜 (li.na)", "incident.opened", "role:店长"),
        ("孙丽 (sun.li)", "incident.opened", "role:战区运营"),
        (hq, "incident.opened", f"channel:{demo.channels['hq-room']}"),
        ("周敏 (zhou.min)", "incident.opened", "raci:responsible"),
        ("赵磊 (zhao.lei)", "incident.opened", "raci:accountable"),
        ("王建国 (wang.jianguo)", "incident.opened", "raci:informed")}
    # Nobody answered: the Responsible are warned at 4 minutes, the Accountable told at 5, and
    # after 15 silent minutes the ladder's next step reaches the 战区负责人.
    later = sorted((m, who, reason, target) for who, m, reason, target in told if m > 0)
    assert later == [
        (4, "周敏 (zhou.min)", "late.respond.warning", "raci:responsible"),
        (4, "李娜 (li.na)", "late.respond.warning", "raci:responsible"),
        (5, "赵磊 (zhao.lei)", "late.respond.deadline", "raci:accountable"),
        (15, "赵磊 (zhao.lei)", "escalation.step1", "role:战区负责人")]
    by_who = {r["who"]: r for r in rows}
    assert by_who["赵磊 (zhao.lei)"]["roles"] == ["战区负责人@华南战区"]
    assert by_who["李娜 (li.na)"]["raci"] == ["R"]
    assert by_who["王建国 (wang.jianguo)"]["raci"] == ["I"]
    assert all(r["status"] == "delivered" for r in rows)
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)

    # The receiver got each message, signed; the 战区负责人's step came as a second message.
    assert all(r["signature_ok"] for r in received_by_then)
    assert len(received_by_then) == len(rows)

    print_table(rows, demo.incident)
    print_messages(read)
    print_reports(reports)
    printed = capsys.readouterr().out
    for expected in (demo.incident["ref"], "李娜 (li.na)", "店长@深圳宝安店",
                     "nobody acknowledged: ladder step 1, role 战区负责人",
                     "opened: RACI I (informed)", " 15:0",
                     " 赵磊 (zhao.lei) · escalation.step1 · chat, zh",
                     "│ 🔴 严重 P0 | 升级：仍未确认", "│ 日报汇总 ",
                     "孙丽 (sun.li) · daily digest 2/1/1"):
        assert expected in printed, printed

    # What each of them read: the page as their chat robot got it, in Chinese, naming the
    # store, with the incident's link and (for a person) where the one-click link stood.
    ref, public = demo.incident["ref"], stack.urls["incidents"]
    assert [r["delivery_id"] for r in read] == [r["delivery_id"] for r in rows]
    for r in read:
        message = r["message"]
        assert (message["medium"], message["language"]) == ("chat", "zh")
        assert message["subject"].startswith("🔴 严重 P0 | "), message
        assert "对象：深圳宝安店（store-017）" in message["text"] and ref in message["text"]
        assert f"查看事件：{public}/v1/incidents/{ref}" in message["text"]
        acknowledge = f"一键确认：{public}/v1/ack/<one-time-token>"
        assert (acknowledge in message["text"]) == (r["handle"] is not None), message["text"]
    by_reason = {(r["handle"], r["reason"]): r["message"] for r in read}
    assert by_reason[("zhou.min", "late.respond.warning")]["subject"].startswith(
        "🔴 严重 P0 | 即将超时")
    assert "已超时" in by_reason[("zhao.lei", "late.respond.deadline")]["text"]
    assert "升级" in by_reason[("zhao.lei", "escalation.step1")]["subject"]

    # The minor alerts paged nobody; at 09:00 Shanghai time each 店长 and the 战区运营 got
    # one daily report: what fired, what is still open, what was resolved, per store.
    counts = {r["handle"]: tuple(r["counts"][k] for k in ("fired", "open", "closed"))
              for r in reports}
    assert counts == {"li.na": (1, 1, 0), "huang.wei": (1, 0, 1), "sun.li": (2, 1, 1)}
    assert all(r["status"] == "delivered" for r in reports)
    assert {_instant(r["digest"]["due_at"]).astimezone(SHANGHAI).strftime("%H:%M")
            for r in reports} == {"09:00"}
    sun_li = next(r["message"] for r in reports if r["handle"] == "sun.li")
    assert sun_li["subject"].startswith("日报汇总 ") and sun_li["subject"].endswith(
        "2 新 / 1 未关闭 / 1 已关闭")
    for line in ("孙丽，", "- 深圳宝安店：1 / 1 / 0", "- 广州天河店：1 / 0 / 1",
                 f"{demo.minor[1]['ref']} [P3]"):
        assert line in sun_li["text"], sun_li["text"]
    digests = [r["body"] for r in demo.receiver.received
               if r["body"].get("reason") == "digest.daily"]
    assert sorted(b["recipient"]["handle"] for b in digests) == ["huang.wei", "li.na", "sun.li"]
    assert not any(r["body"]["incident"]["incident_id"] in {i["id"] for i in demo.minor}
                   for r in demo.receiver.received)


SHANGHAI = ZoneInfo("Asia/Shanghai")


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
