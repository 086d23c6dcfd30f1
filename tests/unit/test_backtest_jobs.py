"""Backtest jobs in the detector process: states, progress, cancel between chunks, one job at
a time, and ended jobs forgotten after their keep time on the injected clock."""
from __future__ import annotations

import asyncio
import threading

from shared.clock import ManualClock

from services.detector.backtest_jobs import BacktestJobs
from services.detector.rules import MetricSpec, RuleSpec
from services.detector.rules.backtest.run import SweepAsk, backtest

METRIC = MetricSpec(name="m", interval="1m", retention="35d")
RULE = RuleSpec.model_validate({"name": "r", "metric": "m", "severity": "P2",
                                "when": {"deviation": {"method": "zscore", "window": 10},
                                         "above": 3}})
SAMPLES = [("m", "a", {}, 1_700_000_000.0 + 60 * k, float(k % 17 + (k % 101 == 0) * 50))
           for k in range(5000)]


def sweep_work(gate: threading.Event | None = None):
    async def work(progress):
        def run():
            if gate is not None:
                gate.wait(5)
            return backtest(RULE, SAMPLES, [], METRIC, SweepAsk(candidates=[2, 3, 4]), progress)
        return await asyncio.to_thread(run)
    return work


async def until(condition) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


def test_a_sweep_job_runs_to_done_with_full_progress_and_its_result():
    async def scenario():
        jobs = BacktestJobs(ManualClock())
        job = jobs.start("r", True, sweep_work())
        assert job.state in ("queued", "running")
        await until(lambda: job.state == "done")
        shown = jobs.get(job.id).to_json()
        assert shown["progress"] == {"samples_done": 20000, "samples_total": 20000,
                                     "candidates_done": 3, "candidates_total": 3}
        assert [r["bound"] for r in shown["result"]["sweep"]["rows"]] == [2, 3, 4]
    asyncio.run(scenario())


def test_a_cancelled_job_stops_and_says_cancelled_and_a_queued_one_never_starts():
    async def scenario():
        jobs = BacktestJobs(ManualClock())
        gate = threading.Event()
        running = jobs.start("r", True, sweep_work(gate))
        queued = jobs.start("r", True, sweep_work())
        await until(lambda: running.state == "running")
        assert queued.state == "queued"   # one job at a time
        jobs.cancel(queued.id)
        assert queued.state == "cancelled"
        jobs.cancel(running.id)
        assert running.to_json()["cancel_requested"]
        gate.set()
        await until(lambda: running.state == "cancelled")
        assert running.result is None
        assert running.progress.samples_done < running.progress.samples_total
    asyncio.run(scenario())


def test_a_failing_job_says_why_and_ended_jobs_are_forgotten_after_the_keep_time():
    async def broken(progress):
        raise ValueError("path 'when.nowhere' does not exist in the rule")

    async def scenario():
        clock = ManualClock()
        jobs = BacktestJobs(clock, keep_seconds=600)
        job = jobs.start("r", False, broken)
        await until(lambda: job.state == "failed")
        assert "when.nowhere" in job.error
        clock.advance(599)
        assert jobs.get(job.id) is job
        clock.advance(2)
        assert jobs.get(job.id) is None
    asyncio.run(scenario())
