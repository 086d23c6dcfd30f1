"""How far a backtest has got, and the flag that cancels it: replays report samples done
between chunks (or series) and stop there when the flag is set."""
from __future__ import annotations

import threading
from typing import Any


class Cancelled(Exception):
    """The backtest was cancelled; raised between two chunks, so nothing is half-written."""


class Progress:
    def __init__(self, cancel: threading.Event | None = None) -> None:
        self.cancel = cancel or threading.Event()
        self.samples_total = 0
        self.samples_done = 0
        self.candidates_total = 0
        self.candidates_done = 0

    def expect(self, samples: int, candidates: int = 0) -> None:
        self.samples_total += samples
        self.candidates_total += candidates

    def advance(self, samples: int) -> None:
        self.samples_done += samples
        self.check()

    def candidate_done(self) -> None:
        self.candidates_done += 1
        self.check()

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled("the backtest was cancelled")

    def to_json(self) -> dict[str, Any]:
        return {"samples_done": min(self.samples_done, self.samples_total),
                "samples_total": self.samples_total,
                "candidates_done": self.candidates_done,
                "candidates_total": self.candidates_total}
