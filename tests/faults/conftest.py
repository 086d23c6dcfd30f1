"""The fault suite's results: each scenario's figures, printed as a table at the end of the
run and written to .closedloop-faults/results.json (logs of each scenario beside it)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.faults.scenario import Result

OUT = Path(__file__).resolve().parents[2] / ".closedloop-faults"
RESULTS: list[Result] = []


@pytest.fixture
def result(request) -> Result:
    """A scenario's record, kept whether the scenario passes or fails."""
    record = Result(scenario=request.node.callspec.id, alerts=0)
    RESULTS.append(record)
    return record


@pytest.fixture
def logs(request) -> Path:
    return OUT / request.node.callspec.id


COLUMNS = (("scenario", "scenario", 22), ("passed", "ok", 4), ("alerts", "alerts", 6),
           ("retried_requests", "retried", 7), ("resolved", "resolved", 8),
           ("catch_up_after_restart_s", "catch-up s (restart)", 20),
           ("catch_up_after_load_s", "catch-up s (load end)", 21),
           ("deliveries_received", "deliveries", 10), ("receiver_duplicates", "duplicates", 10),
           ("receiver_incomplete", "cut off", 8))


def pytest_terminal_summary(terminalreporter) -> None:
    if not RESULTS:
        return
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps([r.as_dict() for r in RESULTS], indent=2))
    write = terminalreporter.write_line
    terminalreporter.section("fault suite: catch-up and duplicates per fault")
    write("  ".join(f"{title:<{width}}" for _, title, width in COLUMNS))
    for r in RESULTS:
        row = r.as_dict()
        write("  ".join(f"{'-' if row[key] is None else str(row[key]):<{width}}"
                        for key, _, width in COLUMNS))
        for problem in r.problems[:3]:
            write(f"    ! {problem[:300]}")
    write(f"(details and logs: {OUT})")
