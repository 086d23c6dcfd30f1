"""What a backtest reports: labelled windows, the alerts a replay raised, and their scores.
Plain dataclasses, so the HTTP API can return `to_json()` directly."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Window:
    """A labelled anomaly window (epoch seconds, inclusive); entity None = any entity."""
    start: float
    end: float
    entity: str | None = None

    def holds(self, entity: str, ts: float) -> bool:
        return (self.entity is None or self.entity == entity) and self.start <= ts <= self.end


@dataclass(frozen=True)
class AlertSpan:
    """One alert the rule raised: from its raise to its resolve (None = still firing)."""
    entity: str
    severity: str
    start: float
    end: float | None
    summary: str


@dataclass
class Replay:
    """A rule run over history: the alerts it raised and what the run covered.

    `interval` is the sample spacing (the rule's or metric's interval, else the median gap);
    it keeps a replay of very few samples from counting as zero days. `notes` says what in the
    history limits the result (rows out of order, repeated times, gaps, constant series, too
    little history for the measure)."""
    alerts: list[AlertSpan]
    suppressed: int
    samples: int
    rejected: int
    start: float
    end: float
    interval: float | None = None
    notes: list[str] = field(default_factory=list)  # what to know about the history

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Scores:
    """How a replay's alerts line up with the labelled windows (docs/backtesting.md)."""
    alerts: int
    true_alerts: int
    false_alerts: int
    windows: int
    detected_windows: int
    precision: float | None
    false_positive_rate: float | None   # false_alerts / alerts: "20% of our alerts are false"
    miss_rate: float | None             # windows without a true alert / windows
    detection_delay: dict[str, float | None]   # mean, median, p90, max seconds
    alerts_per_day: float
    suppressed: int
    days: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sweep:
    """One bound varied over candidates: a row of scores per candidate and the recommendation.

    Each row is {"bound": value, **scores} ("error" instead of scores when the candidate
    makes the rule invalid); `recommended` is one of the rows or None, `reason` says why."""
    rows: list[dict[str, Any]]
    recommended: dict[str, Any] | None
    reason: str
    path: str = ""
    targets: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
