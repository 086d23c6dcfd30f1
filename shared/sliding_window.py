"""How many things happened over the last window, on the clock the caller passes in (never
the wall clock): the incidents' storm rate and the detector's PagerDuty rate limit. Per
process: with several replicas each counts its own share."""
from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta


class SlidingWindow:
    def __init__(self, window: timedelta) -> None:
        self.window = window
        self._times: deque[datetime] = deque()
        self._lock = threading.Lock()

    def _drop_old(self, at: datetime) -> None:
        while self._times and at - self._times[0] >= self.window:
            self._times.popleft()

    def note(self, at: datetime) -> int:
        """Count one at `at`; returns how many the window ending at `at` holds."""
        with self._lock:
            self._times.append(at)
            self._drop_old(at)
            return len(self._times)

    def admit(self, at: datetime, limit: int) -> timedelta | None:
        """Count one at `at` if the window holds fewer than `limit`; else count nothing and
        return how long until the oldest counted leaves it (a refused call does not
        lengthen the wait, so a sender that backs off gets through)."""
        with self._lock:
            self._drop_old(at)
            if len(self._times) < limit:
                self._times.append(at)
                return None
            return self._times[0] + self.window - at
