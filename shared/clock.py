"""Injectable time: services ask a Clock, so tests can run a week of SLA time in milliseconds."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock:
    """A clock that only moves when told to (tests, simulations)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        with self._lock:
            self._now += step
            return self._now


class AdjustableClock:
    """Another clock moved forward by an offset that only grows: a demo can let fifteen
    minutes pass at once (CLOSEDLOOP_CLOCK_ADJUSTABLE, shared/clock_api.py). Never backwards:
    timers, leases and event times all assume time does not run back."""

    def __init__(self, base: Clock | None = None) -> None:
        self.base = base or SystemClock()
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def now(self) -> datetime:
        return self.base.now() + self.offset

    def advance(self, delta: timedelta | float) -> datetime:
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += step
        return self.now()
