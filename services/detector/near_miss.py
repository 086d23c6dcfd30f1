"""Near misses per rule × entity (险些触发): the value entered the rule's near-miss band
(rules/near_miss.py). Stored so each entry is published once (RuleNearMiss) and a restarted
detector, whose rebuilt engine finds the series still inside, publishes nothing again."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.detector.domain import NS


class NearMiss(Aggregate):
    """At most one entry open at a time; `changed_at` (the sample's time) makes a repeated
    transition (a rebuild replaying itself) change nothing."""

    @staticmethod
    def create_id(fingerprint: str) -> UUID:
        return uuid5(NS, f"near-miss:{fingerprint}")

    @event("Watched")
    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self.inside = False
        self.changed_at: datetime | None = None

    def _stale(self, observed_at: datetime) -> bool:
        return self.changed_at is not None and observed_at <= self.changed_at

    def enter(self, *, observed_at: datetime, **fields: Any) -> bool:
        if self.inside or self._stale(observed_at):
            return False
        self._entered(fingerprint=self.fingerprint, observed_at=observed_at, **fields)
        return True

    @event("Entered")
    def _entered(self, fingerprint: str, rule_id: str, name: str, metric: str, entity: str,
                 labels: dict[str, str], severity: str, bound: str, threshold: float,
                 value: float, share: float, observed_at: datetime, trial: bool, summary: str,
                 at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.inside, self.changed_at = True, observed_at

    def leave(self, *, value: float, observed_at: datetime, at: datetime, actor: str,
              cause: dict[str, Any]) -> bool:
        if not self.inside or self._stale(observed_at):
            return False
        self._left(value, observed_at, at, actor, cause)
        return True

    @event("Left")
    def _left(self, value: float, observed_at: datetime, at: datetime, actor: str,
              cause: dict[str, Any]) -> None:
        self.inside, self.changed_at = False, observed_at
