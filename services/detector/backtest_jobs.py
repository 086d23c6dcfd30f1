"""Backtests and sweeps run as jobs in the detector process (docs/adr/backtest-jobs.md):
queued, running one at a time in a worker thread that reports progress between chunks and
stops there when cancelled; an ended job is kept `KEEP_SECONDS` on the service clock, then
forgotten. Nothing is persisted, so a restart can never leave a job "running": it is gone."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi.exceptions import RequestValidationError

from shared.clock import Clock

from services.detector.rules.backtest.progress import Cancelled, Progress

KEEP_SECONDS = 30 * 60.0   # how long an ended job's result stays readable
MAX_JOBS = 100             # jobs held at once (queued, running or ended and not yet expired)
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ENDED = (DONE, FAILED, CANCELLED)

Work = Callable[[Progress], Awaitable[dict[str, Any]]]


@dataclass
class Job:
    id: str
    rule: str
    sweep: bool
    created_at: float
    state: str = QUEUED
    progress: Progress = field(default_factory=Progress)
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    task: asyncio.Task | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "rule": self.rule, "sweep": self.sweep, "state": self.state,
                "progress": self.progress.to_json(),
                "cancel_requested": self.progress.cancel.is_set(),
                "created_at": self.created_at, "started_at": self.started_at,
                "finished_at": self.finished_at, "result": self.result, "error": self.error}


class TooManyJobs(Exception):
    pass


class BacktestJobs:
    def __init__(self, clock: Clock, keep_seconds: float = KEEP_SECONDS,
                 max_jobs: int = MAX_JOBS) -> None:
        self.clock, self.keep_seconds, self.max_jobs = clock, keep_seconds, max_jobs
        self.jobs: dict[str, Job] = {}
        self._one_at_a_time = asyncio.Semaphore(1)   # replays are CPU-bound: queue, not pile up

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def start(self, rule: str, sweep: bool, work: Work) -> Job:
        self.expire()
        if len(self.jobs) >= self.max_jobs:
            raise TooManyJobs(f"{len(self.jobs)} backtest jobs are held; wait for some to end "
                              "or cancel one")
        job = Job(uuid.uuid4().hex, rule, sweep, self._now())
        self.jobs[job.id] = job
        job.task = asyncio.get_running_loop().create_task(self._run(job, work))
        return job

    def get(self, job_id: str) -> Job | None:
        self.expire()
        return self.jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        """Sets the flag; a queued job ends at once, a running one at its next chunk."""
        job = self.get(job_id)
        if job is not None and job.state not in ENDED:
            job.progress.cancel.set()
            if job.state == QUEUED:
                self._end(job, CANCELLED)
        return job

    def expire(self) -> None:
        cutoff = self._now() - self.keep_seconds
        for key in [k for k, j in self.jobs.items()
                    if j.finished_at is not None and j.finished_at <= cutoff]:
            del self.jobs[key]

    async def close(self) -> None:
        """Cancel everything (a stopping service): workers stop at their next chunk."""
        for job in list(self.jobs.values()):
            self.cancel(job.id)
        tasks = [j.task for j in self.jobs.values() if j.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, job: Job, work: Work) -> None:
        async with self._one_at_a_time:
            if job.state != QUEUED:
                return
            job.state, job.started_at = RUNNING, self._now()
            try:
                job.result = await work(job.progress)
            except Cancelled:
                self._end(job, CANCELLED)
            except RequestValidationError as error:
                self._end(job, FAILED, "; ".join(e.get("msg", "") for e in error.errors()))
            except Exception as error:   # a job must end, whatever went wrong
                self._end(job, FAILED, f"{type(error).__name__}: {error}")
            else:
                self._end(job, DONE)

    def _end(self, job: Job, state: str, error: str | None = None) -> None:
        job.state, job.error, job.finished_at = state, error, self._now()
