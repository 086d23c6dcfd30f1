"""The weekly timeliness self-check table (响应时效自检表) over a seeded week (real NATS and
PostgreSQL, the incidents service on a ManualClock): incidents opened, acknowledged,
resolved and closed at chosen moments of 2026-W50; the table must match the figures worked
out by hand below. Then the trends, KPIs, CSV, refusals, and `closedloop report weekly`."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from closedloop.cli import main as cli
from shared.clock import ManualClock
from shared.contracts import AlertRaised, SupportTierEntered
from tests.harness import ADMIN_KEY, API_KEYS, RESPONDER_KEY, RunningService, wait_until
from tests.integration.test_incidents_service import publish

from services.incidents.main import create_app
from services.incidents.reports.schemas import (
    KpisRead, RepeatsRead, ResponseTimesRead, SelfCheckRead,
)
from services.incidents.settings import IncidentsSettings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)  # Monday of ISO week 2026-W50
MIN, HOUR, DAY = 60, 3600, 86400
POLICIES = """
policies:
  - {severity: P0, respond: 5m, resolve: 4h, close: 2d}
  - {severity: P1, respond: 15m, resolve: 24h}
  - {severity: P2, respond: 1h, resolve: 72h}
  - {severity: P3, respond: 4h, resolve: 7d}
"""


@pytest.fixture
def service(database_url, nats_url, tmp_path):
    policy_file = tmp_path / "sla.yaml"
    policy_file.write_text(POLICIES, encoding="utf-8")
    settings = IncidentsSettings(
        database_url=database_url, nats_url=nats_url, api_keys=API_KEYS,
        sla_policies_file=str(policy_file), sla_poll_seconds=0.2,
        closing_paths="P0=optional,P1=optional,P2=optional,P3=optional")
    running = RunningService(create_app(settings, clock=ManualClock(T0))).start()
    yield running
    running.stop()


def ok(response) -> dict:
    assert response.status_code < 300, response.text
    return response.json()


class Week:
    """Moves the service's clock to moments of the week and acts as people would."""

    def __init__(self, service: RunningService) -> None:
        self.service, self.api = service, service.client(RESPONDER_KEY)

    def at(self, seconds: float) -> None:
        clock = self.service.runtime.clock
        clock.advance(T0 + timedelta(seconds=seconds) - clock.now())

    def declare(self, severity: str, kind: str, drill: bool = False) -> str:
        title = {"system_outage": "收银系统故障", "complaint": "会员投诉积分未到账"}[kind]
        return ok(self.api.post("/v1/incidents", json={
            "severity": severity, "title": title, "entity": "深圳宝安店", "reporter": "li.na",
            "drill": drill, "summary": title, "problem_type": kind}))["ref"]

    def act(self, seconds: float, action: str, *refs: str, **body: str) -> None:
        """At T0 + seconds, someone acknowledges, resolves or closes these incidents."""
        self.at(seconds)
        for ref in refs:
            ok(self.api.post(f"/v1/incidents/{ref}/{action}",
                             json={"by": "wang.wei", **body}))

    def report(self, path: str = "self-check", **params: str):
        return self.api.get(f"/v1/reports/{path}", params=params)


def alert_in_unit(unit: str) -> AlertRaised:
    return AlertRaised(
        alert_id=f"alert-{uuid.uuid4().hex[:8]}", fingerprint=f"fp-{uuid.uuid4().hex[:8]}",
        source="rule", rule_id="rule-queue", name="checkout_queue", entity="广州天河店",
        labels={"unit": unit}, severity="P2", summary="queue too long",
        started_at=T0)


def line(report: dict, severity: str, kind: str) -> dict:
    found = next(s for s in report["severities"] if s["severity"] == severity)
    return next(x for x in found["lines"] if x["kind"] == kind)


def closure(report: dict, severity: str) -> dict:
    return next(s for s in report["severities"] if s["severity"] == severity)["closure"]


def p90(values: list[float]) -> float:
    """percentile_cont(0.9): linear between the ranks around 0.9 × (n − 1)."""
    ordered, rank = sorted(values), 0.9 * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (rank - low) * (ordered[high] - ordered[low]), 1)


def test_the_weekly_self_check_table_matches_the_week_worked_out_by_hand(service, nats_url):
    week = Week(service)
    # Monday 08:00: three P0s, two P1s, a P0 drill (never answered: it must not count), and
    # a P2 alert from unit 华南 (the others have no unit).
    a, b, c = (week.declare("P0", "system_outage") for _ in range(3))
    d, e = (week.declare("P1", "complaint") for _ in range(2))
    week.declare("P0", "system_outage", drill=True)
    publish(nats_url, alert_in_unit("华南"), msg_id=f"detector:{uuid.uuid4()}")
    g = wait_until(lambda: next((i["ref"] for i in ok(week.api.get("/v1/incidents"))["items"]
                                 if i["severity"] == "P2"), None), timeout=20)

    for moment, refs in ((2 * MIN, [a]), (4 * MIN, [b]), (5 * MIN, [e]), (10 * MIN, [c, d]),
                         (30 * MIN, [g])):
        week.act(moment, "acknowledge", *refs)
    for moment, ref in ((1 * HOUR, a), (2 * HOUR, g), (3 * HOUR, b), (5 * HOUR, c),
                        (6 * HOUR, d)):
        week.act(moment, "resolve", ref, summary="恢复收银")
    for moment, ref in ((1 * HOUR + DAY, a), (2 * DAY, d), (3 * HOUR + 3 * DAY, b)):
        week.act(moment, "close", ref, note="已恢复，无需CAPA")
    # The next week: an incident that must stay out of W50's table.
    week.at(7 * DAY + HOUR)
    week.declare("P0", "system_outage")

    def settled():
        # Both read models caught up: the incidents' last closure, and the reports' facts
        # (the unit of the last incident opened in the week).
        report = ok(week.report(week="2026-W50"))
        south = ok(week.report(week="2026-W50", unit="华南"))["opened"]
        return report if closure(report, "P0")["closed"] == 2 and \
            closure(report, "P1")["closed"] == 1 and south == 1 else None
    table = wait_until(settled, timeout=20)
    SelfCheckRead.model_validate(table)  # the OpenAPI document describes what is answered

    # By hand. P0 respond: 2, 4, 10 min against 5 min → c failed; 2 of 3 met < 90 %: fail.
    respond = [2 * MIN, 4 * MIN, 10 * MIN]
    got = line(table, "P0", "respond")
    assert (got["standard_seconds"], got["incidents"], got["done"], got["average_seconds"],
            got["p90_seconds"], got["met"], got["missed"], got["attainment"], got["passed"],
            got["failed"]) == (300.0, 3, 3, sum(respond) / 3, p90(respond), 2, 1, 0.6667,
                               False, [c])
    # P0 resolve: 1 h, 3 h, 5 h against 4 h → c failed.
    resolve = [HOUR, 3 * HOUR, 5 * HOUR]
    got = line(table, "P0", "resolve")
    assert (got["average_seconds"], got["p90_seconds"], got["met"], got["missed"],
            got["passed"], got["failed"]) == (3 * HOUR, p90(resolve), 2, 1, False, [c])
    # P0 close, counted from the resolution against 2 d: a after 1 d (met), b after 3 d
    # (late), c never closed and due Wednesday 15:00 (missed).
    got = line(table, "P0", "close")
    assert (got["standard_seconds"], got["done"], got["average_seconds"], got["p90_seconds"],
            got["met"], got["missed"], got["attainment"], got["passed"], got["failed"]) == \
        (2 * DAY, 2, 2 * DAY, p90([DAY, 3 * DAY]), 1, 2, 0.3333, False, [b, c])
    # P1 respond: 10 and 5 min against 15 min: both met, pass.
    got = line(table, "P1", "respond")
    assert (got["average_seconds"], got["p90_seconds"], got["attainment"], got["passed"],
            got["failed"]) == (450.0, p90([10 * MIN, 5 * MIN]), 1.0, True, [])
    # P1 resolve: d in 6 h; e never resolved and overdue since Tuesday 08:00.
    got = line(table, "P1", "resolve")
    assert (got["done"], got["average_seconds"], got["met"], got["missed"], got["passed"],
            got["failed"]) == (1, 6 * HOUR, 1, 1, False, [e])
    # P1 close: no closure target in the policy → no verdict, but the time is shown.
    got = line(table, "P1", "close")
    assert (got["standard_seconds"], got["passed"], got["average_seconds"]) == \
        (None, None, 2 * DAY - 6 * HOUR)
    assert "no target" in got["note"]
    # P3: nothing opened — said so, nothing divided by zero.
    assert line(table, "P3", "respond")["average_seconds"] is None
    assert closure(table, "P3") == {"opened": 0, "closed": 0, "rate": None,
                                    "note": "no P3 incident opened in the period"}
    # Closure rate (问题闭环率): a, b of three P0; d of two P1; g open → 3 of 6.
    assert closure(table, "P0")["rate"] == 0.6667 and closure(table, "P1")["rate"] == 0.5
    assert (table["opened"], table["closure"]["closed"], table["closure"]["rate"]) == (6, 3, 0.5)

    # Per unit: only 华南's P2, both of its lines met.
    south = ok(week.report(week="2026-W50", unit="华南"))
    assert south["opened"] == 1 and south["unit"] == "华南"
    assert (line(south, "P2", "respond")["average_seconds"],
            line(south, "P2", "resolve")["passed"]) == (30 * MIN, True)
    nobody = ok(week.report(week="2026-W50", unit="华北"))
    assert nobody["closure"]["rate"] is None and "no incident" in nobody["note"]

    # CSV: the same figures, one row per line, the closure rate as its own line.
    text = week.report(week="2026-W50", format="csv").text.lstrip("\ufeff")
    rows = {(r["severity"], r["line"]): r for r in csv.DictReader(io.StringIO(text))}
    assert rows[("P0", "respond")]["failed"] == c and rows[("P0", "respond")]["passed"] == "fail"
    assert rows[("P0", "closure")]["attainment"] == "0.6667"
    assert week.api.get("/v1/reports/kpis", params={"week": "2026-W50"},
                        headers={"Accept": "text/csv"}).headers["content-type"].startswith(
                            "text/csv")

    # MTTA/MTTR by day and source: Monday's six real incidents (manual 5, rule 1).
    trend = ok(week.report("response-times", week="2026-W50", bucket="day", by="source"))
    ResponseTimesRead.model_validate(trend)
    by_source = {p["source"]: p for p in trend["points"]}
    assert set(by_source) == {"manual", "rule"}
    assert by_source["rule"]["mtta_seconds"] == 30 * MIN
    assert by_source["manual"]["mtta_seconds"] == (2 + 4 + 5 + 10 + 10) * MIN / 5
    assert by_source["manual"]["mttr_seconds"] == (1 + 3 + 5 + 6) * HOUR / 4
    assert {p["bucket"] for p in trend["points"]} == {"2026-12-07"}

    by_type = ok(week.report("response-times", week="2026-W50", by="type"))["points"]
    assert {p["type"]: p["incidents"] for p in by_type} == {
        "system_outage": 3, "complaint": 2, "(none)": 1}

    # Repeat problems: the same store with the same type, the drill left out.
    answer = ok(week.report("repeats", week="2026-W50"))
    RepeatsRead.model_validate(answer)
    repeats = answer["items"]
    assert [(r["problem"], r["refs"]) for r in repeats] == [
        ("深圳宝安店 · system_outage", [a, b, c]), ("深圳宝安店 · complaint", [d, e])]

    kpis = ok(week.report("kpis", week="2026-W50"))
    KpisRead.model_validate(kpis)
    assert kpis["sla_attainment"]["respond"] == {"met": 5, "missed": 1, "rate": 0.8333,
                                                 "note": None}
    assert kpis["first_line_resolution"]["rate"] is None  # nothing went through the tiers
    assert kpis["reopened"]["count"] == 0

    # Bad input names the field.
    for params, field in (({"week": "2026-50"}, "week"),
                          ({"from": "2026-12-09", "to": "2026-12-08"}, "to"),
                          ({"week": "2026-W50", "colour": "red"}, "colour"),
                          ({"week": "2026-W50", "bucket": "hour"}, "bucket"),
                          ({"week": "2026-W50", "format": "xml"}, "format")):
        path = "response-times" if field == "bucket" else "self-check"
        refused = week.report(path, **params)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field

    # The weekly review's print-out, in Chinese and in English.
    key_args = ["--url", service.url, "--api-key", ADMIN_KEY]
    printed = run_cli(["report", "weekly", "--week", "2026-W50", "--lang", "zh", *key_args])
    assert "响应时效自检表 2026-W50" in printed and "未达标" in printed and c in printed
    assert "问题闭环率: 3/6 = 50.0% (P0 2/3 · P1 1/2 · P2 0/1)" in printed
    printed = run_cli(["report", "weekly", "--week", "2026-W50", "--unit", "华南",
                       "--lang", "en", *key_args])
    assert "Timeliness self-check 2026-W50" in printed and "unit 华南" in printed
    assert "Closure rate: 0/1 = 0.0%" in printed and c not in printed


def tier(incident: dict, name: str, why: str) -> SupportTierEntered:
    return SupportTierEntered(incident_id=incident["id"], ref=incident["ref"], tier=name,
                              group=f"pos-{name.lower()}", team=f"POS {name}", why=why,
                              next_tier="L2" if name == "L1" else None, at=T0)


def test_first_line_resolution_counts_incidents_resolved_in_their_first_tier(
        service, nats_url):
    """Three P1s: one resolved in L1 (first line), one escalated on time to L2 before it was
    resolved, one never routed (not counted either way); the first is reopened and resolved
    again, still in L1."""
    week = Week(service)
    first, escalated, unrouted = (
        ok(week.api.get(f"/v1/incidents/{week.declare('P1', 'complaint')}")) for _ in range(3))
    for incident, name, why in ((first, "L1", "routed"), (escalated, "L1", "routed"),
                                (escalated, "L2", "time box")):
        publish(nats_url, tier(incident, name, why), msg_id=f"notifier:{uuid.uuid4()}")
    path = f"/v1/incidents/{escalated['ref']}"
    wait_until(lambda: ok(week.api.get(path))["support"]["tier"] == "L2", timeout=20)
    week.act(HOUR, "resolve", first["ref"], escalated["ref"], unrouted["ref"],
             summary="积分已补发")
    week.act(2 * HOUR, "reopen", first["ref"], reason="会员说积分仍未到账")
    week.act(3 * HOUR, "resolve", first["ref"], summary="积分已补发（第二次）")

    def settled():
        # The incidents table holds the second resolution, and the reports' facts the reopening.
        listed = {i["ref"]: i for i in ok(week.api.get("/v1/incidents"))["items"]}
        resolved_at = listed[first["ref"]]["resolved_at"]
        resolved_again = bool(resolved_at) and datetime.fromisoformat(
            resolved_at.replace("Z", "+00:00")) == T0 + timedelta(hours=3)
        kpis = ok(week.report("kpis", week="2026-W50"))
        return kpis if resolved_again and kpis["reopened"]["count"] == 1 else None
    kpis = wait_until(settled, timeout=20)
    assert kpis["first_line_resolution"] == {"resolved_in_tiers": 2, "first_line": 1,
                                             "rate": 0.5, "note": None}
    assert kpis["reopened"] == {"count": 1, "refs": [first["ref"]], "rate": 0.3333,
                                "note": None}
    rows = week.report("kpis", week="2026-W50", format="csv").text.lstrip("\ufeff")
    assert "first_line_resolution,1,2,0.5," in rows


def run_cli(argv: list[str]) -> str:
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli(argv) == 0
    return out.getvalue()


def test_the_weekly_command_says_when_a_week_had_nothing_and_names_a_bad_week(service):
    key_args = ["--url", service.url, "--api-key", ADMIN_KEY]
    printed = run_cli(["report", "weekly", "--week", "2026-W40", "--lang", "zh", *key_args])
    assert "本期没有新建事件。" in printed and "问题闭环率: 0/0 = —" in printed
    printed = run_cli(["report", "weekly", "--from", "2026-10-01", "--to", "2026-10-07",
                       "--tz", "Asia/Shanghai", "--lang", "en", *key_args])
    assert "(2026-10-01 – 2026-10-07, Asia/Shanghai)" in printed
    assert "No incident was opened in this period." in printed
    with pytest.raises(SystemExit) as refused:
        cli(["report", "weekly", "--week", "2026-50", *key_args])
    assert "422" in str(refused.value) and "week" in str(refused.value)
