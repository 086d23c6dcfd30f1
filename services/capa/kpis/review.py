"""The management-review summary of a period (管理评审): the headline KPIs in a reader's
terms, the groups that need attention and who holds overdue actions, as data and as Markdown."""
from __future__ import annotations

from typing import Any

from services.capa.kpis.formulas import RATES

TITLES = {
    "on_time_rate": "CAPA actions on time",
    "verification_first_pass_rate": "Verification first-pass rate",
    "effectiveness_pass_rate": "Effectiveness passed first time",
    "recurrence_rate": "Recurrence rate",
    "mean_time_to_closure_hours": "Mean time to closure",
}


def summary(report: dict[str, Any], by_entity: dict[str, Any]) -> dict[str, Any]:
    """`report`: kpis(by=category); `by_entity`: kpis(by=entity) for the same period."""
    overall = report["overall"]
    return {
        "from": report["from"], "to": report["to"], "as_of": report["as_of"],
        "unit": report.get("unit"),
        "headline": {name: overall[name] for name in TITLES},
        "open_actions": overall["open_actions"]["value"],
        "open_actions_overdue": overall["open_actions_overdue"]["value"],
        "overdue_by_owner": [{"owner": o["owner"], "overdue": o["overdue"], "open": o["open"]}
                             for o in report["open_actions_by_owner"] if o["overdue"]],
        "recurring_entities": _recurring(by_entity["groups"]),
        "by_category": [{"category": g["key"], **{n: g["kpis"][n]["value"] for n in RATES}}
                        for g in report["groups"]],
        "systemic_problems": report.get("systemic_problems"),
        "notes": report["notes"],
    }


def _recurring(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [{"entity": g["key"], "recurred": g["kpis"]["recurrence_rate"]["numerator"],
              "cases": g["kpis"]["recurrence_rate"]["denominator"]}
             for g in groups if g["kpis"]["recurrence_rate"]["numerator"]]
    return sorted(found, key=lambda e: (-e["recurred"], e["entity"]))


def markdown(review: dict[str, Any]) -> str:
    unit = f" — {review['unit']}" if review.get("unit") else ""
    lines = [f"# CAPA management review {review['from']:%Y-%m-%d} – {review['to']:%Y-%m-%d}"
             f"{unit}", "", f"Figures as of {review['as_of']:%Y-%m-%d %H:%M} UTC.", "",
             "| KPI | Value | Counted |", "| --- | --- | --- |"]
    for name, figure in review["headline"].items():
        lines.append(f"| {TITLES[name]} | {_value(name, figure['value'])} | "
                     f"{_counted(name, figure)} |")
    lines += ["", f"Open actions: {review['open_actions']}, of which overdue: "
                  f"{review['open_actions_overdue']}."]
    systemic = review.get("systemic_problems")
    if systemic:
        lines += [f"Systemic problems (上报总部): {systemic['raised']} raised and "
                  f"{systemic['closed']} closed in the period, {systemic['open']} open."]
    if review["overdue_by_owner"]:
        lines += ["", "## Overdue actions by owner", ""]
        lines += [f"- {o['owner']}: {o['overdue']} overdue of {o['open']} open"
                  for o in review["overdue_by_owner"]]
    if review["recurring_entities"]:
        lines += ["", "## Entities whose problems came back", ""]
        lines += [f"- {e['entity']}: {e['recurred']} of {e['cases']} cases recurred"
                  for e in review["recurring_entities"]]
    if review["by_category"]:
        lines += ["", "## By root-cause category", "",
                  "| Category | " + " | ".join(TITLES[n] for n in RATES) + " |",
                  "| --- |" + " --- |" * len(RATES)]
        lines += [f"| {c['category']} | " + " | ".join(_value(n, c[n]) for n in RATES) + " |"
                  for c in review["by_category"]]
    if review["notes"]:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in review["notes"]]
    return "\n".join(lines) + "\n"


def _value(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    if name == "mean_time_to_closure_hours":
        return f"{value:g} h"
    return f"{value * 100:.1f} %"


def _counted(name: str, figure: dict[str, Any]) -> str:
    if name == "mean_time_to_closure_hours":
        return f"{figure['denominator']} closed"
    return f"{figure['numerator']} of {figure['denominator']}"
