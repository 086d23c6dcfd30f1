"""One incident's way through the support tiers: the chain of groups copied when it was
routed (editing the desk never changes an open incident's climb), the tier it is in, and the
handover packages it carried. Each tier is entered once."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from shared.errors import DomainError


class SupportTicket(Aggregate):
    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(f"support:{incident_id}")

    @event("Routed")
    def __init__(self, incident_id: str, incident: dict[str, Any], problem_type: str | None,
                 chain: list[dict[str, Any]], at: datetime, actor: str, cause: Cause) -> None:
        self.incident_id = incident_id
        self.incident, self.problem_type, self.chain = incident, problem_type, chain
        self.level: int | None = None  # index in chain of the tier it is in
        self.packages: list[dict[str, Any]] = []
        self.over = False

    @property
    def current(self) -> dict[str, Any] | None:
        return self.chain[self.level] if self.level is not None else None

    @property
    def following(self) -> dict[str, Any] | None:
        nxt = 0 if self.level is None else self.level + 1
        return self.chain[nxt] if nxt < len(self.chain) else None

    def deadline_key(self, level: int) -> str:
        return f"tier:{level}"

    def enter_next(self, why: str, responsible: str | None, on_call: list[str],
                   due_at: datetime | None, package: dict[str, Any] | None, at: datetime,
                   actor: str, cause: Cause) -> dict[str, Any]:
        """Into the next tier (the first one when routed); refused at the last or once
        the incident is resolved."""
        self.check_can_climb()
        level = 0 if self.level is None else self.level + 1
        tier = self.chain[level]
        following = self.chain[level + 1]["tier"] if level + 1 < len(self.chain) else None
        self._entered(level=level, tier=tier["tier"], group=tier["group"], team=tier["team"],
                      why=why, responsible=responsible, on_call=on_call, due_at=due_at,
                      next_tier=following, package=package, ref=self.incident["ref"],
                      incident_id=self.incident_id,
                      problem_type=self.problem_type, at=at, actor=actor, cause=cause)
        return tier

    @event("TierEntered")
    def _entered(self, level: int, tier: str, group: str, team: str, why: str,
                 responsible: str | None, on_call: list[str], due_at: datetime | None,
                 next_tier: str | None, package: dict[str, Any] | None, ref: str,
                 incident_id: str, problem_type: str | None, at: datetime, actor: str, cause: Cause) -> None:
        self.level = level
        if package is not None:
            self.packages.append(package)

    def end(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        """Resolved or closed: no further tier. False when ended already."""
        if self.over:
            return False
        self._ended(why=why, at=at, actor=actor, cause=cause)
        return True

    @event("Ended")
    def _ended(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.over = True

    def check_can_climb(self) -> None:
        if self.over:
            raise TierClimbOver(f"incident {self.incident['ref']}: its support is over")
        if self.following is None:
            raise TierClimbOver(f"incident {self.incident['ref']}: "
                                f"{self.current['tier'] if self.current else 'it'} is the "
                                "last support tier")


class TierClimbOver(DomainError):
    """Resolved, or in the last tier: there is no tier to go to."""

