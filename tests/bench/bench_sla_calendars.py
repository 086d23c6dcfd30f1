"""SLA calendars: microseconds of CPU to compute one deadline (the incidents service does a
few per opening, re-grade, resolution and resumption) on a 24×7 clock, on office hours in
Shanghai with China's holidays, and for a 7-day target over a holiday week, on one core.

Run: .venv/bin/python -m tests.bench.bench_sla_calendars [deadlines]"""
from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

from services.incidents.sla_policies import load_policies
from tests.bench.infra import per_op
from tests.unit.test_sla_policies import EXAMPLES

START = datetime(2026, 9, 28, 1, 0, tzinfo=timezone.utc)  # the week before 国庆


def main(n: int = 5_000) -> dict[str, float]:
    retail = load_policies(EXAMPLES / "retail-stores.yaml")
    always, office = retail.policy("P0").calendar, retail.policy("P2").calendar
    starts = [START + timedelta(minutes=37 * i) for i in range(n)]

    def run(calendar, target: timedelta):
        def go(count: int) -> None:
            for at in starts[:count]:
                calendar.add(at, target)
        return go

    figures = {
        "24x7, 4 h (µs)": per_op(run(always, timedelta(hours=4)), n),
        "office hours CN, 4 h (µs)": per_op(run(office, timedelta(hours=4)), n),
        "office hours CN, 7 d of working time (µs)": per_op(run(office, timedelta(days=7)), n),
    }
    for name, value in figures.items():
        print(f"{name:45s} {value:10.1f}")
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000)
