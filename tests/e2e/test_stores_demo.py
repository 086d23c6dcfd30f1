"""The stores story through four running services over real HTTP, NATS and PostgreSQL, their
clocks adjustable: the store network is applied, a red alert on 深圳宝安店 opens a P0, and the
table says who was told, when (the deliveries' own times, from the opening) and why. The
fifteen minutes are the services' clocks moved forward, never slept."""
from __future__ import annotations

import pytest

from closedloop.demo import DEMO_SECRET, wait_for
from closedloop.demo_stores import StoresDemo, print_table
from closedloop.stack import StackInfo
from services.capa.main import create_app as capa_app
from services.capa.settings import CapaSettings
from services.detector.main import create_app as detector_app
from services.detector.settings import DetectorSettings
from services.incidents.main import create_app as incidents_app
from services.incidents.settings import IncidentsSettings
from services.notifier.main import create_app as notifier_app
from services.notifier.settings import NotifierSettings
from tests.harness import API_KEYS, NOTIFIER_SAFETY, OPERATOR, OPERATOR_KEY, RunningService

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(database_url, nats_url):
    common = dict(database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
                  clock_adjustable=True)
    services = {
        "detector": RunningService(detector_app(DetectorSettings(**common))),
        "incidents": RunningService(incidents_app(IncidentsSettings(**common))),
        "notifier": RunningService(notifier_app(NotifierSettings(**common, **NOTIFIER_SAFETY))),
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
        # enabled again (the policies' read model may be a moment behind)
        nps_after = wait_for("the NPS policy enabled again",
                             lambda: demo.policies()[nps["name"]]["enabled"] and
                             demo.policies()[nps["name"]])
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
    assert all(r["signature_ok"] for r in demo.receiver.received)
    assert len(demo.receiver.received) == len(rows)

    print_table(rows, demo.incident)
    printed = capsys.readouterr().out
    for expected in (demo.incident["ref"], "李娜 (li.na)", "店长@深圳宝安店",
                     "nobody acknowledged: ladder step 1, role 战区负责人",
                     "opened: RACI I (informed)", " 15:0"):
        assert expected in printed, printed
