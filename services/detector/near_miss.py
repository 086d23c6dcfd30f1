"""Near misses per rule × entity (险些触发): the value entered the rule's near-miss band
(rules/near_miss.py). The engine, rebuilt from the stored samples, knows which series are
inside and emits an entry only when one enters; this record makes each entry published once
(RuleNearMiss), so a rebuild that repeats itself or a reconcile that re-announces a series
still inside publishes nothing again."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.detector.domain import NS


class NearMiss(Aggregate):
    """The entries of one rule × entity, by the sample's time: an entry at or before the
    last one recorded is that one again (leaving the band is engine state, not recorded)."""

    @staticmethod
    def create_id(fingerprint: str) -> UUID:
        return uuid5(NS, f"near-miss:{fingerprint}")

    @event("Watched")
    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self.entered_at: datetime | None = None

    def enter(self, *, observed_at: datetime, **fields: Any) -> bool:
        if self.entered_at is not None and observed_at <= self.entered_at:
            return False
        self._entered(fingerprint=self.fingerprint, observed_at=observed_at, **fields)
        return True

    @event("Entered")
    def _entered(self, fingerprint: str, rule_id: str, name: str, metric: str, entity: str,
                 labels: dict[str, str], severity: str, bound: str, threshold: float,
                 value: float, share: float, observed_at: datetime, trial: bool, summary: str,
                 at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.entered_at = observed_at
