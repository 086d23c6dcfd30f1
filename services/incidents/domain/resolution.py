"""Service restored (resolve, which implies acknowledging), and, once the CAPA case closed
the incident, filed away (archive)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.closing_policy import Closing, ClosingPath, ClosingPolicy
from services.incidents.domain.core import IncidentCore, stored_as
from services.incidents.domain.errors import AlreadyResolved, NotClosed
from services.incidents.domain.vocabulary import Status


class IncidentResolution(IncidentCore):
    def resolve(self, by: str, summary: str, at: datetime, actor: str,
                cause: dict[str, Any], verdict: str = "confirmed",
                policy: ClosingPolicy | None = None) -> None:
        """Containment is done and service restored; resolving implies acknowledging. The
        policy chooses how it will close (closing.py); without one, through a CAPA case."""
        self.check_not_finished("be resolved")
        self.check_not_resolved()
        if self.acknowledged_at is None:
            self.acknowledge(  # type: ignore[attr-defined]  (acknowledgement.py)
                by, "acknowledged on resolution", at, actor, cause)
        closing = (policy.closing_for(str(self.severity), verdict,
                                      self.observations_failed)  # type: ignore[attr-defined]
                   if policy is not None else Closing(ClosingPath.REQUIRED))
        status = {ClosingPath.OBSERVE: Status.OBSERVING,
                  ClosingPath.FALSE_POSITIVE: self.status}.get(
            closing.path, self.status.at_least(Status.PLANNING))
        self._resolve(ref=self.ref, severity=str(self.severity), title=self.title,
                      entity=self.entity, by=by, summary=summary, status=str(status),
                      fingerprint=self.fingerprint, verdict=verdict,
                      interval_seconds=getattr(self, "interval_seconds", None),
                      at=at, actor=actor, cause=cause, closing=closing.path.value,
                      observe_seconds=closing.observe.total_seconds() if closing.observe
                      else None, drill=self.drill)  # type: ignore[attr-defined]
        self.follow_closing_path(at, actor, cause)  # type: ignore[attr-defined]
        # A returning incident whose analysis (an older case) already closed is done too.
        self.close_if_followed_case_closed(at, actor, cause)  # type: ignore[attr-defined]

    @event("Resolved", topic=stored_as("Resolved"))
    def _resolve(self, ref: str, severity: str, title: str, entity: str, by: str, summary: str,
                 status: str, at: datetime, actor: str, cause: dict[str, Any],
                 fingerprint: str = "", verdict: str = "confirmed",
                 interval_seconds: float | None = None, closing: str = "required",
                 observe_seconds: float | None = None, drill: bool = False) -> None:
        self.resolved_at, self.resolved_by, self.resolution = at, by, summary
        self.verdict = verdict
        self.closing, self.observe_seconds = closing, observe_seconds
        self.observe_started_at = self.observe_ends_at = None
        self.status = Status(status)

    def archive(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.check_closed_before_archiving()
        self._archive(at=at, actor=actor, cause=cause)

    @event("Archived", topic=stored_as("Archived"))
    def _archive(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.archived_at = at
        self.status = Status.ARCHIVED

    def check_not_resolved(self) -> None:
        if self.resolved_at is not None:
            raise AlreadyResolved(
                f"incident {self.ref} cannot be resolved twice: {self.resolved_by} resolved it "
                f"at {self.resolved_at.isoformat()}")

    def check_closed_before_archiving(self) -> None:
        if self.status != Status.CLOSED:
            raise NotClosed(
                f"incident {self.ref} cannot be archived: only a closed incident can be, and it "
                f"is {self.status} ({self.status.label})")
