"""The KPIs' definitions and arithmetic, apart from SQL so they can be read and tested alone.
A rate is numerator / denominator, or None when nothing was counted (0/0 is not 0 %)."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

# name → what a person reading the report needs to know to trust the number
DEFINITIONS = {
    "on_time_rate": "actions whose due date ends in the period (the end of the due date, UTC, "
                    "after `from` and at or before `to`) and whose standing completion was made "
                    "by then, over those of them completed or already past due at the as-of "
                    "time; an action not yet due and not done is left out",
    "verification_first_pass_rate": "actions whose first verification fell in the period and "
                                    "found them effective, over actions first verified in it",
    "effectiveness_pass_rate": "watched cases whose first effectiveness outcome fell in the "
                               "period and was a pass (window ended clear, or a person's "
                               "check), over cases with a first outcome in it",
    "recurrence_rate": "cases opened in the period that recurred before `to` (a Recurred event "
                       "or an effectiveness failure: the problem came back after the fix), over "
                       "cases opened in it",
    "mean_time_to_closure_hours": "mean of closed − opened (the case opens when the incident is "
                                  "resolved) over cases closed in the period, in hours",
    "open_actions": "actions added before the as-of time and not verified effective by then "
                    "(open or awaiting verification), by age since they were added",
}
RATES = ("on_time_rate", "verification_first_pass_rate", "effectiveness_pass_rate",
         "recurrence_rate")
# (label, upper bound of the age, exclusive); the last has none
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("0-7d", timedelta(days=7)), ("7-30d", timedelta(days=30)),
    ("30-90d", timedelta(days=90)), ("90d+", None))
CSV_COLUMNS = ("group", "kpi", "numerator", "denominator", "value")


def rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def mean_hours(total: timedelta | None, count: int) -> float | None:
    return round(total.total_seconds() / 3600 / count, 2) if count and total is not None else None


def age_bucket(age: timedelta) -> str:
    for label, below in AGE_BUCKETS:
        if below is None or age < below:
            return label
    raise AssertionError("the last bucket has no bound")


def kpi(numerator: int, denominator: int) -> dict[str, Any]:
    return {"numerator": numerator, "denominator": denominator,
            "value": rate(numerator, denominator)}


def csv_text(groups: Iterable[dict[str, Any]]) -> str:
    """One row per group and KPI (long format: spreadsheets pivot it as they like)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for group in groups:
        for name, figure in group["kpis"].items():
            value = figure["value"]
            writer.writerow([group["key"], name, figure["numerator"], figure["denominator"],
                             "" if value is None else value])
    return out.getvalue()
