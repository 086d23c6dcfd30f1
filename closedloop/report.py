"""`closedloop report weekly`: the timeliness self-check table (响应时效自检表) of a week or
period from the incidents service, printed as the weekly review reads it, in zh or en."""
from __future__ import annotations

import argparse
import io
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console
from rich.table import Table

from closedloop.client import checked, server_options, service_client

WORDS = {
    "en": {"title": "Timeliness self-check", "unit": "unit", "severity": "Severity",
           "line": "Line", "standard": "Standard", "incidents": "Incidents",
           "average": "Average", "p90": "P90", "met": "Met", "attainment": "Attainment",
           "result": "Result", "failed": "Failed", "respond": "Response (opened→ack)",
           "resolve": "Resolution (opened→resolved)", "close": "Closure (resolved→closed)",
           "pass": "pass", "fail": "FAIL", "none": "—", "closure": "Closure rate",
           "nothing": "No incident was opened in this period.",
           "rule": "A line passes when at least {share} of its incidents met their deadline.",
           "d": "d", "h": "h", "m": "m", "s": "s"},
    "zh": {"title": "响应时效自检表", "unit": "单位", "severity": "级别", "line": "项目",
           "standard": "标准", "incidents": "事件数", "average": "平均", "p90": "P90",
           "met": "达标数", "attainment": "达标率", "result": "结论", "failed": "未达标事件",
           "respond": "响应（发现→确认）", "resolve": "处置（发现→恢复）",
           "close": "闭环（恢复→闭环）", "pass": "达标", "fail": "未达标", "none": "—",
           "closure": "问题闭环率", "nothing": "本期没有新建事件。",
           "rule": "达标率不低于 {share} 的项目为达标。",
           "d": "天", "h": "小时", "m": "分", "s": "秒"},
}


def register(sub: Any) -> None:
    parser = sub.add_parser("report", help="reports from the incidents service")
    parser.add_argument("kind", choices=["weekly"], help="weekly: the self-check table")
    parser.add_argument("--week", help="ISO week, e.g. 2026-W49 (default: last week)")
    parser.add_argument("--from", dest="start", help="start date or date-time")
    parser.add_argument("--to", dest="end", help="end date (included) or date-time")
    parser.add_argument("--unit", help="only incidents of this unit or region")
    parser.add_argument("--tz", help="time zone weeks and dates are read in (default UTC)")
    parser.add_argument("--lang", choices=["zh", "en"], default="zh")
    server_options(parser, "incidents")
    parser.set_defaults(run=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    params = {k: v for k, v in (("week", args.week), ("from", args.start), ("to", args.end),
                                ("unit", args.unit), ("tz", args.tz)) if v}
    with service_client(args, "incidents") as client:
        report = checked(client.get("/v1/reports/self-check", params=params))
    print(render(report, args.lang), end="")
    return 0


def render(report: dict[str, Any], lang: str = "zh", width: int = 140) -> str:
    """The table as text (no colours), with the closure rate beneath it."""
    w = WORDS[lang]
    period = report["period"]
    start = datetime.fromisoformat(period["from"])
    last_day = datetime.fromisoformat(period["to"]) - timedelta(microseconds=1)
    heading = (f"{w['title']} {period['week'] or ''} ({start:%Y-%m-%d} – {last_day:%Y-%m-%d}, "
               f"{period['time_zone']})".replace("  ", " "))
    if report.get("unit"):
        heading += f" · {w['unit']} {report['unit']}"
    table = Table(title=heading, title_justify="left")
    for key in ("severity", "line", "standard", "incidents", "average", "p90", "met",
                "attainment", "result", "failed"):
        table.add_column(w[key], overflow="fold")
    for s in report["severities"]:
        for line in s["lines"]:
            table.add_row(s["severity"], w[line["kind"]],
                          duration(line["standard_seconds"], w), str(line["incidents"]),
                          duration(line["average_seconds"], w), duration(line["p90_seconds"], w),
                          f"{line['met']}/{line['met'] + line['missed']}",
                          percent(line["attainment"], w), result(line["passed"], w),
                          " ".join(line["failed"]) or w["none"])
        table.add_section()
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, highlight=False)
    console.print(table)
    closure = report["closure"]
    parts = " · ".join(f"{s['severity']} {s['closure']['closed']}/{s['closure']['opened']}"
                       for s in report["severities"] if s["closure"]["opened"])
    console.print(f"{w['closure']}: {closure['closed']}/{closure['opened']} = "
                  f"{percent(closure['rate'], w)}" + (f" ({parts})" if parts else ""))
    console.print(w["rule"].format(share=percent(report["required_share"], w)))
    if not report["opened"]:
        console.print(w["nothing"])
    return out.getvalue()


def duration(seconds: float | None, w: dict[str, str]) -> str:
    """1 d 2 h written compactly (1d2h, 1天2小时); under a minute in seconds."""
    if seconds is None:
        return w["none"]
    total = int(round(seconds))
    if total < 60:
        return f"{total}{w['s']}"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    shown = [(days, "d"), (hours, "h"), (minutes, "m")] if total >= 3600 else \
        [(minutes, "m"), (secs, "s")]
    return "".join(f"{n}{w[u]}" for n, u in shown if n) or f"0{w['s']}"


def percent(rate: float | None, w: dict[str, str]) -> str:
    return w["none"] if rate is None else f"{rate * 100:.1f}%"


def result(passed: bool | None, w: dict[str, str]) -> str:
    return w["none"] if passed is None else w["pass" if passed else "fail"]
