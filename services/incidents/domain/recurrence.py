"""A returning incident whose analysis is an older, reopened CAPA case (CapaRecurred): it gets
no case of its own, so it follows that case instead. It records which case analyses it, and
closes when that case closes; resolved later than the case closed, it closes on resolution.
docs/adr/recurrence.md."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.incidents.domain.core import FINISHED, IncidentCore, stored_as
from services.incidents.domain.ids import NAMESPACE


class IncidentRecurrence(IncidentCore):
    # On the class: incidents stored before this replay with nothing followed.
    followed_capa_id: str | None = None
    followed_ref: str | None = None
    followed_closure: dict[str, Any] | None = None  # the followed case's closure, once heard

    def follow_case(self, capa_id: str, ref: str, reason: str, after_seconds: float,
                    at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        """Its analysis continues in case `capa_id` (of incident `ref`). False when already
        following it, or finished."""
        if self.followed_capa_id == capa_id or self.status in FINISHED:  # type: ignore[attr-defined]
            return False
        self._case_followed(capa_id=capa_id, ref=ref, reason=reason,
                            after_seconds=after_seconds, at=at, actor=actor, cause=cause)
        return True

    @event("CaseFollowed", topic=stored_as("CaseFollowed"))
    def _case_followed(self, capa_id: str, ref: str, reason: str, after_seconds: float,
                       at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.followed_capa_id, self.followed_ref = capa_id, ref
        self.followed_closure = None

    def followed_case_closed(self, capa_id: str, root_cause: str, actions: int,
                             at: datetime, actor: str, cause: dict[str, Any]) -> None:
        """The case it follows closed: resolved, it closes now; still open, the closure is
        noted and it closes when a person resolves it (service restored)."""
        if capa_id != self.followed_capa_id or self.status in FINISHED:  # type: ignore[attr-defined]
            return
        if self.resolved_at is not None:  # type: ignore[attr-defined]
            self.close(capa_id, root_cause, actions, at, actor, cause)  # type: ignore[attr-defined]
            return
        if self.followed_closure is None:
            self._followed_case_closed(capa_id=capa_id, root_cause=root_cause, actions=actions,
                                       at=at, actor=actor, cause=cause)

    @event("FollowedCaseClosed", topic=stored_as("FollowedCaseClosed"))
    def _followed_case_closed(self, capa_id: str, root_cause: str, actions: int, at: datetime,
                              actor: str, cause: dict[str, Any]) -> None:
        self.followed_closure = {"capa_id": capa_id, "root_cause": root_cause,
                                 "actions": actions}

    def close_if_followed_case_closed(self, at: datetime, actor: str,
                                      cause: dict[str, Any]) -> None:
        """Called on resolution: the case it follows closed before service was restored."""
        closure = self.followed_closure
        if closure is not None and self.status not in FINISHED:  # type: ignore[attr-defined]
            self.close(closure["capa_id"], closure["root_cause"], closure["actions"],  # type: ignore[attr-defined]
                       at, actor, cause)


class CaseFollowers(Aggregate):
    """The incidents following one CAPA case, so that its closure reaches them (CapaClosed
    names only the case's own incident)."""

    @staticmethod
    def create_id(capa_id: str) -> UUID:
        return uuid5(NAMESPACE, f"case-followers:{capa_id}")

    @event("Created")
    def __init__(self, capa_id: str) -> None:
        self.capa_id = capa_id
        self.incident_ids: list[str] = []

    def add(self, incident_id: str) -> None:
        if incident_id not in self.incident_ids:
            self._added(incident_id=incident_id)

    @event("Added")
    def _added(self, incident_id: str) -> None:
        self.incident_ids.append(incident_id)
