"""`closedloop backtest` with a progress bar (rich, on stderr so --json stays clean): a
backtest on the detector runs as a job polled until it ends, a local one in a thread.
Ctrl-C cancels either: the job is deleted, the local replay stops at its next chunk."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from closedloop.client import checked

ENDED = ("done", "failed", "cancelled")
POLL_SECONDS = 0.3


def _bar():
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeRemainingColumn)
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[candidates]}"), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True)


def _show(bar, task, progress: dict[str, int], state: str) -> None:
    total = progress["candidates_total"]
    bar.update(task, total=progress["samples_total"] or None,
               completed=progress["samples_done"], description=f"backtest {state}",
               candidates=f"candidates {progress['candidates_done']}/{total}" if total else "")


def remote(client: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Starts the backtest as a job at `path`/jobs and follows it to its end."""
    started = client.post(f"{path}/jobs", json=body)
    job = checked(started)
    location = started.headers["Location"]
    with _bar() as bar:
        task = bar.add_task("backtest queued", total=None, candidates="")
        try:
            while job["state"] not in ENDED:
                time.sleep(POLL_SECONDS)
                job = checked(client.get(location))
                _show(bar, task, job["progress"], job["state"])
        except KeyboardInterrupt:
            checked(client.delete(location))
            raise SystemExit("cancelled: the backtest job was stopped") from None
    if job["state"] != "done":
        raise SystemExit(f"backtest {job['state']}: {job['error'] or 'no result'}")
    return job["result"]


def local(run: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """Runs `run(progress)` in a thread, showing its progress; Ctrl-C sets its cancel flag."""
    from services.detector.rules.backtest.progress import Cancelled, Progress

    progress = Progress()
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = run(progress)
        except Cancelled:
            outcome["cancelled"] = True
        except BaseException as error:   # handed to the main thread
            outcome["error"] = error

    worker = threading.Thread(target=work, name="backtest", daemon=True)
    with _bar() as bar:
        task = bar.add_task("backtest running", total=None, candidates="")
        worker.start()
        try:
            while worker.is_alive():
                worker.join(0.1)
                _show(bar, task, progress.to_json(), "running")
        except KeyboardInterrupt:
            progress.cancel.set()
            worker.join()
            raise SystemExit("cancelled: the backtest was stopped") from None
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
