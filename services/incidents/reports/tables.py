"""Reports as CSV: each report flattened into rows of one header, refs joined by spaces. The
file starts with a byte-order mark so Excel reads the Chinese as UTF-8."""
from __future__ import annotations

import csv
import io
from typing import Any


def to_csv(rows: list[dict[str, Any]], header: list[str]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "pass" if value else "fail"
    return "" if value is None else value


SELF_CHECK_HEADER = ["severity", "line", "standard_seconds", "incidents", "done",
                     "average_seconds", "p90_seconds", "met", "missed", "attainment",
                     "passed", "failed", "note"]


def self_check_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per severity and line, then the severity's closure rate as a line `closure`
    (done = closed, attainment = the rate)."""
    rows = []
    for s in report["severities"]:
        for line in s["lines"]:
            rows.append({"severity": s["severity"], "line": line["kind"], **line})
        c = s["closure"]
        rows.append({"severity": s["severity"], "line": "closure", "incidents": c["opened"],
                     "done": c["closed"], "attainment": c["rate"], "note": c["note"]})
    return rows


def kpi_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    first = report["first_line_resolution"]
    rows = [{"measure": "first_line_resolution", "count": first["first_line"],
             "of": first["resolved_in_tiers"], "rate": first["rate"], "note": first["note"]}]
    for kind, a in report["sla_attainment"].items():
        rows.append({"measure": f"sla_attainment_{kind}", "count": a["met"],
                     "of": a["met"] + a["missed"], "rate": a["rate"], "note": a["note"]})
    r = report["reopened"]
    rows.append({"measure": "reopened", "count": r["count"], "of": report["opened"],
                 "rate": r["rate"], "note": r["note"], "refs": r["refs"]})
    return rows


KPI_HEADER = ["measure", "count", "of", "rate", "note", "refs"]
REPEATS_HEADER = ["problem", "entity", "problem_type", "incidents", "refs", "last_opened_at"]


def csv_of(name: str, report: dict[str, Any]) -> str:
    if name == "self-check":
        return to_csv(self_check_rows(report), SELF_CHECK_HEADER)
    if name == "kpis":
        return to_csv(kpi_rows(report), KPI_HEADER)
    if name == "repeats":
        return to_csv(report["items"], REPEATS_HEADER)
    header = ["bucket", report["by"], "incidents", "acknowledged", "mtta_seconds", "resolved",
              "mttr_seconds"]
    return to_csv(report["points"], header)
