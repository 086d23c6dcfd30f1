"""What evaluation hands back: alert transitions and refused samples."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Transition:
    rule: str            # the rule key given to Engine.set_rule
    entity: str
    metric: str
    labels: Mapping[str, str]
    # "raise" | "resolve" | "suppress" (a raise blocked by the budget) | "worsen" (a worse
    # band of a firing alert now holds)
    kind: str
    severity: str | None  # level for raise/suppress/worsen; the alert's level for resolve
    ts: float            # epoch seconds of the sample (or tick) that caused it
    value: float | None  # the sample value (None on the clock)
    summary: str
    # A predictive alert's forecast: when the bound will be crossed (epoch seconds) and how
    # likely that is; None for other alerts.
    predicted_crossing_at: float | None = None
    confidence: float | None = None


@dataclass
class Evaluation:
    transitions: list[Transition] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (batch index, reason)
