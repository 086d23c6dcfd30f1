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


class Answer:
    def __init__(self, body: dict, headers: dict | None = None) -> None:
        self.status_code, self.headers, self._body = 202, headers or {}, body
        self.content = b"{}"

    def json(self) -> dict:
        return self._body


class InterruptedClient:
    """A detector whose job is still running when the person presses Ctrl-C."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def post(self, path, json):
        assert path == "/v1/backtest/jobs"
        return Answer({"state": "queued"}, {"Location": "/v1/backtest/jobs/j1"})

    def get(self, path):
        raise KeyboardInterrupt

    def delete(self, path):
        self.deleted.append(path)
        return Answer({"state": "running", "cancel_requested": True})


def test_ctrl_c_while_following_a_job_deletes_it(monkeypatch):
    from closedloop import backtest_progress
    monkeypatch.setattr(backtest_progress, "POLL_SECONDS", 0)
    client = InterruptedClient()
    with pytest.raises(SystemExit, match="cancelled"):
        backtest_progress.remote(client, "/v1/backtest", {})
    assert client.deleted == ["/v1/backtest/jobs/j1"]


def test_ctrl_c_during_a_local_backtest_stops_the_replay_at_its_next_chunk(monkeypatch):
    from closedloop import backtest_progress
    from services.detector.rules import MetricSpec, RuleSpec
    from services.detector.rules.backtest.run import SweepAsk, backtest

    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(backtest_progress, "_show", interrupted)
    spec = RuleSpec.model_validate({"name": "r", "metric": "m", "severity": "P2",
                                    "when": {"peer": {"group_by": "region"}, "above": 3}})
    rows = [("m", "a", {"region": "n"}, 1_700_000_000.0 + 60 * k, float(k % 9))
            for k in range(5_000)]
    seen = {}

    def run(progress):
        try:
            return backtest(spec, rows, [], MetricSpec(name="m", interval="1m",
                                                      retention="35d"), SweepAsk(), progress)
        finally:
            seen.update(progress.to_json())
    with pytest.raises(SystemExit, match="cancelled"):
        backtest_progress.local(run)
    assert seen["samples_done"] < seen["samples_total"]
