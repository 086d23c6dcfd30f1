"""Alert life cycle per (rule, series): hysteresis (`for`, `clear_after`) and the daily budget."""
from __future__ import annotations

import time
from collections import defaultdict
from typing import NamedTuple

import numpy as np

from .measures import Slots
from .durations import parse_duration
from .spec import Budget

IDLE, FIRING, SUPPRESSED, PENDING = 0, 1, 2, 3  # PENDING: raised, budget not yet settled


class Patience(NamedTuple):
    """`for` / `clear_after`: a count of evaluations in a row, or a duration in seconds."""
    count: int | None
    seconds: float | None

    @classmethod
    def of(cls, given: int | str) -> Patience:
        return cls(given, None) if isinstance(given, int) else cls(None, parse_duration(given))

    def met(self, streak: np.ndarray, since: np.ndarray, ts: np.ndarray | float) -> np.ndarray:
        """`streak` counts this kind of evaluation in a row (0 when the other kind holds)."""
        if self.count is not None:
            return streak >= self.count
        return (streak > 0) & (ts - since >= self.seconds)


class Lifecycle:
    """One signed streak per slot (+n: n breaching evaluations in a row, −n: n quiet ones)
    and the time it began."""

    def __init__(self, raise_after: int | str, clear_after: int | str, clocked: bool) -> None:
        self.raise_after, self.clear_after = Patience.of(raise_after), Patience.of(clear_after)
        self.clocked = clocked  # keep the last evaluation time for clock evaluations
        self.state = Slots(status=(np.int8, IDLE), level=(np.int8, -1), streak=(np.int32, 0),
                           streak_since=(np.float64, np.nan), since=(np.float64, np.nan),
                           **({"evaluated": (np.float64, -np.inf)} if clocked else {}))

    def step(self, slots: np.ndarray, breach: np.ndarray,
             ts: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """One evaluation per slot: update the streaks; return the round positions that
        raise and those whose alert (firing or suppressed) calms down."""
        st = self.state
        before = st["streak"][slots]
        streak = np.where(breach, np.maximum(before, 0) + 1, np.minimum(before, 0) - 1)
        since = np.where((streak == 1) | (streak == -1), ts, st["streak_since"][slots])
        st["streak"][slots], st["streak_since"][slots] = streak, since
        if self.clocked:
            st["evaluated"][slots] = ts
        status = st["status"][slots]
        raised = (status == IDLE) & self.raise_after.met(streak, since, ts)
        calm = (status != IDLE) & self.clear_after.met(-streak, since, ts)
        if not (raised.any() or calm.any()):
            return _NONE, _NONE
        return np.flatnonzero(raised), np.flatnonzero(calm)

    def clock(self, n: int, now: float) -> np.ndarray:
        """Slots whose alert has been quiet for `clear_after` by the clock."""
        if self.clear_after.seconds is None or n == 0:
            return _NONE
        st = self.state
        quiet = -st["streak"][:n]
        return np.flatnonzero((st["status"][:n] != IDLE)
                              & self.clear_after.met(quiet, st["streak_since"][:n], now))

    def quiet_for(self, slot: int) -> tuple[int, float]:
        """(quiet evaluations in a row, start of the quiet spell) of one slot."""
        return max(0, -int(self.state["streak"][slot])), float(self.state["streak_since"][slot])

    def set(self, slot: int, status: int, level: int = -1, since: float = np.nan) -> None:
        st = self.state
        st["status"][slot], st["level"][slot], st["since"][slot] = status, level, since


_NONE = np.empty(0, dtype=np.int64)


class DailyBudget:
    """Raises allowed per UTC day (in total or per level); every raise and suppression is
    counted, budget or not, for rule health."""

    def __init__(self, budget: Budget | None) -> None:
        self.per_day = budget.per_day if budget is not None else None
        self.counts: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: {"raised": 0, "suppressed": 0}))

    def admit(self, level: str, ts: float) -> bool:
        day = self.counts[time.strftime("%Y-%m-%d", time.gmtime(ts))]
        if isinstance(self.per_day, dict):
            limit, spent = self.per_day.get(level), day[level]["raised"]
        else:
            limit, spent = self.per_day, sum(c["raised"] for c in day.values())
        allowed = limit is None or spent < limit
        day[level]["raised" if allowed else "suppressed"] += 1
        return allowed

    def limit_text(self, level: str) -> str:
        if isinstance(self.per_day, dict):
            return f"{self.per_day.get(level)} {level} raises per day"
        return f"{self.per_day} raises per day"

    def report(self) -> dict[str, dict[str, dict[str, int]]]:
        return {day: {lvl: dict(c) for lvl, c in levels.items()} for day, levels in self.counts.items()}
