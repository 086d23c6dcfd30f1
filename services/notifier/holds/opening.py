"""What the notifier decided when an incident opened: its labels, the routes that chose its
escalation policies, and whether quiet rules (or trial mode) held its notifications; then,
for a held incident, each later look at the rules until the hold is released or the incident
no longer needs it. The incident's alert fires until it is resolved or closed: open
openings are the firing set inhibition rules look at."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain.common import Cause, key_id
from shared.errors import DomainError, NotFound


class OpeningStatus(StrEnum):
    TOLD = "told"          # step 0 was told when the incident opened
    HELD = "held"          # a silence, maintenance window or inhibition holds it
    TRIAL = "trial"        # grew from a rule in trial mode: recorded, never told
    RELEASED = "released"  # was held; told when the hold ended
    DROPPED = "dropped"    # was held; acknowledged, resolved or closed before the hold ended


class Opening(Aggregate):
    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(f"opening:{incident_id}")

    @classmethod
    def record(cls, **decision: Any) -> "Opening":
        """The decision at opening (the arguments of Recorded)."""
        return cls._create(cls.Recorded, id=cls.create_id(decision["incident"]["incident_id"]),
                           **decision)

    @event("Recorded")
    def __init__(self, incident: dict[str, str], labels: dict[str, str], trial: bool,
                 routes: list[dict[str, Any]], policy_ids: list[str], hold: dict | None,
                 recheck_at: datetime | None, at: datetime, actor: str, cause: Cause,
                 sla: dict[str, float] | None = None) -> None:
        """`hold`: None when step 0 was told at once; else kind, id, name, until (and for an
        inhibition the source incident). `recheck_at`: when the rules are looked at again
        (the hold's end; None while an inhibiting incident fires, and for trial). `sla`:
        seconds from the opening to its respond and resolve deadlines."""
        self.incident, self.labels, self.trial = incident, labels, trial
        self.incident_id, self.ref = incident["incident_id"], incident["ref"]
        self.hold, self.recheck_at, self.sla = hold, recheck_at, sla or {}
        self.held_since = at
        self.status = (OpeningStatus.TOLD if hold is None else
                       OpeningStatus.TRIAL if hold["kind"] == "trial" else OpeningStatus.HELD)
        self.firing = not trial  # a trial alert inhibits nothing
        self.correlation_id = cause.get("correlation_id")

    # -- commands -------------------------------------------------------------------------
    def still_held(self, hold: dict, recheck_at: datetime | None, at: datetime, actor: str,
                   cause: Cause) -> None:
        self.check_held()
        self._rechecked(incident_id=self.incident_id, ref=self.ref, hold=hold,
                        recheck_at=recheck_at, at=at, actor=actor, cause=cause)

    def release(self, routes: list[dict[str, Any]], policy_ids: list[str], policies: list[str],
                at: datetime, actor: str, cause: Cause) -> None:
        """Nothing holds it any more and it is still open: step 0 is told now."""
        self.check_held()
        assert self.hold is not None
        self._released(incident_id=self.incident_id, ref=self.ref, hold=self.hold, routes=routes, policy_ids=policy_ids, policies=policies,
                       held_seconds=(at - self.held_since).total_seconds(), at=at, actor=actor,
                       cause=cause)

    def drop(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        """Someone took the incident on (or it ended) before the hold did: nobody is told."""
        self.check_held()
        self._dropped(why=why, at=at, actor=actor, cause=cause)

    def end(self, why: str, at: datetime, actor: str, cause: Cause) -> bool:
        """Resolved or closed: its alert no longer fires (nor inhibits), and a hold still in
        place is dropped. False when it had ended already."""
        if not self.firing and self.status is not OpeningStatus.HELD:
            return False
        self._ended(why=why, dropped=self.status is OpeningStatus.HELD, at=at, actor=actor,
                    cause=cause)
        return True

    # -- events ---------------------------------------------------------------------------
    @event("Rechecked")
    def _rechecked(self, incident_id: str, ref: str, hold: dict, recheck_at: datetime | None,
                   at: datetime, actor: str, cause: Cause) -> None:
        self.hold, self.recheck_at = hold, recheck_at

    @event("Released")
    def _released(self, incident_id: str, ref: str, hold: dict, routes: list[dict[str, Any]], policy_ids: list[str],
                  policies: list[str], held_seconds: float, at: datetime, actor: str,
                  cause: Cause) -> None:
        self.status, self.recheck_at = OpeningStatus.RELEASED, None

    @event("Dropped")
    def _dropped(self, why: str, at: datetime, actor: str, cause: Cause) -> None:
        self.status, self.recheck_at = OpeningStatus.DROPPED, None

    @event("Ended")
    def _ended(self, why: str, dropped: bool, at: datetime, actor: str, cause: Cause) -> None:
        self.firing = False
        if dropped:
            self.status, self.recheck_at = OpeningStatus.DROPPED, None

    # -- guards ---------------------------------------------------------------------------
    def check_held(self) -> None:
        if self.status is not OpeningStatus.HELD:
            raise OpeningNotHeld(f"incident {self.ref}'s notifications are not held: they are "
                                 f"{self.status}")

    def check_seen(self, version: int) -> None:
        """A worker acts on what its read model showed: refused when the opening has moved
        on since (another replica, or an earlier pass over a lagging read model, did it)."""
        if version != self.version:
            raise OpeningMoved(f"incident {self.ref}'s hold changed since version {version} "
                               f"(now {self.version})")


class OpeningNotHeld(DomainError):
    pass


class OpeningMoved(DomainError):
    pass


class OpeningNotFound(NotFound):
    pass
