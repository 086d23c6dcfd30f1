"""`closedloop backtest --csv` runs locally through the same backtest as the service (with a
progress bar on stderr) and prints its report; a bad sweep path stops with a message."""
from __future__ import annotations

import json

import pytest

from closedloop.cli import main

RULES = """version: 1
metrics:
  - {name: load, interval: 1m, retention: 35d}
rules:
  - name: load-odd
    metric: load
    severity: P2
    when: {deviation: {method: zscore, window: 10}, above: 3}
"""


def files(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    rows = ["timestamp,value"] + [f"{1_700_000_000 + 60 * k},{k % 7 + (40 if k == 300 else 0)}"
                                  for k in range(600)]
    csv = tmp_path / "load.csv"
    csv.write_text("\n".join(rows))
    windows = tmp_path / "windows.json"
    windows.write_text(json.dumps([[1_700_000_000 + 60 * 295, 1_700_000_000 + 60 * 310]]))
    return rules, csv, windows


def test_a_local_sweep_prints_the_report_and_json(tmp_path, capsys):
    rules, csv, windows = files(tmp_path)
    assert main(["backtest", str(rules), "--csv", str(csv), "--windows", str(windows),
                 "--sweep", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["replay"]["samples"] == 600
    assert result["scores"]["detected_windows"] == 1
    assert len(result["sweep"]["rows"]) > 10


def test_a_bad_sweep_path_stops_with_the_paths_there_are(tmp_path):
    rules, csv, windows = files(tmp_path)
    with pytest.raises(SystemExit, match="when.nowhere"):
        main(["backtest", str(rules), "--csv", str(csv), "--sweep", "when.nowhere"])
