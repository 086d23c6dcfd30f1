"""What people do to an incident besides acknowledging and resolving it: change its severity,
reopen it, post progress, follow it. The Incident aggregate inherits these commands; their
events are `IncidentLifecycle.<Name>` (stored under this module's topic), also reachable as
`Incident.<Name>`."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.core import IncidentCore
from services.incidents.domain.errors import NotReopenable, SeverityUnchanged
from services.incidents.domain.sla import SlaClocks
from services.incidents.domain.vocabulary import SLA, Severity, Status
from shared.errors import Invalid

# The stages a resolved incident is in until the CAPA case closes it.
_AFTER_RESOLUTION = (Status.PLANNING, Status.EXECUTING, Status.VERIFYING)


class IncidentLifecycle(IncidentCore):
    """State the Incident's own events never set starts from these class defaults (older
    incidents have no followers, no updates, were never reopened)."""

    followers = ()  # handles; no annotations here: eventsourcing would take them for fields
    reporter = None
    progress_posted = 0
    reopened_times = 0

    # -- severity --------------------------------------------------------------------------
    def change_severity(self, severity: Severity, reason: str, by: str, at: datetime,
                        cause: dict[str, Any], clocks: SlaClocks | None = None) -> None:
        """Deadlines become the new severity's SLA counted from the opening, as if it had
        had that severity all along: a raise can leave a deadline already past, which the
        SLA watch then records as missed."""
        self.check_not_finished("change severity")
        _check_text("reason", reason)
        if severity == self.severity:  # type: ignore[has-type]
            raise SeverityUnchanged(
                f"incident {self.ref} cannot change severity to {severity}: it is {severity} "
                "already")
        if clocks is None:  # the shipped defaults; a policy's clocks come from the app
            sla = SLA[severity]
            clocks = SlaClocks(self.opened_at + sla.respond, self.opened_at + sla.resolve)
        self._severity_changed(
            ref=self.ref, severity=str(severity), previous=str(self.severity), reason=reason,
            by=by, respond_by=clocks.respond_by, resolve_by=clocks.resolve_by,
            acknowledged=self.in_hand, status=str(self.status), at=at, actor=by, cause=cause,
            **clocks.extra())

    @event("SeverityChanged")
    def _severity_changed(self, ref: str, severity: str, previous: str, reason: str, by: str,
                          respond_by: datetime, resolve_by: datetime, acknowledged: bool,
                          status: str, at: datetime, actor: str, cause: dict[str, Any],
                          at_risk: dict[str, datetime] | None = None,
                          policy: str | None = None) -> None:
        self.severity = Severity(severity)
        self.respond_by, self.resolve_by = respond_by, resolve_by
        if at_risk is not None or policy is not None:
            self.at_risk_by = {**self.at_risk_by, **(at_risk or {})}  # type: ignore[has-type]
            self.sla_policy = policy

    @property
    def in_hand(self) -> bool:
        """Someone acknowledged it and the notifier has not re-triggered it since."""
        return self.acknowledged_at is not None and not self.ack_lapsed

    # -- reopening -------------------------------------------------------------------------
    def reopen(self, reason: str, by: str, at: datetime, cause: dict[str, Any],
               clocks: SlaClocks | None = None) -> None:
        """Service failed again after it was restored (or the case closed): the incident is
        under investigation again, waits for someone to acknowledge it anew (within the
        severity's respond time from now), and has the severity's resolve time from now."""
        _check_text("reason", reason)
        if self.status is Status.ARCHIVED or (self.resolved_at is None
                                              and self.status is not Status.CLOSED):
            raise NotReopenable(
                f"incident {self.ref} cannot be reopened: only a resolved or closed incident "
                f"can be, and it is {self.status} ({self.status.label})")
        if clocks is None:
            sla = SLA[self.severity]
            clocks = SlaClocks(at + sla.respond, at + sla.resolve)
        self._reopened(ref=self.ref, severity=str(self.severity), reason=reason, by=by,
                       was=str(self.status), status=str(Status.INVESTIGATING),
                       resolve_by=clocks.resolve_by, at=at, actor=by,
                       cause=cause, respond_by=clocks.respond_by, **clocks.extra())

    @event("Reopened")
    def _reopened(self, ref: str, severity: str, reason: str, by: str, was: str, status: str,
                  resolve_by: datetime, at: datetime, actor: str, cause: dict[str, Any],
                  respond_by: datetime | None = None,
                  at_risk: dict[str, datetime] | None = None,
                  policy: str | None = None) -> None:
        # respond_by is for the notifier's new respond chase; the incident keeps the respond
        # deadline of its opening (a response missed then stays missed, recorded once).
        self.status = Status(status)
        self.resolved_at, self.resolved_by, self.resolution = None, None, ""
        self.closed_at, self.root_cause = None, None
        self.resolve_by = resolve_by
        self.ack_lapsed = True  # whoever takes it on again acknowledges it again
        self.reopened_times += 1
        if at_risk:  # the new resolve clock's warning (the respond one stays the opening's)
            self.at_risk_by = {**self.at_risk_by,  # type: ignore[has-type]
                               **{k: v for k, v in at_risk.items() if k == "resolve"}}
            self.sla_warned = tuple(k for k in self.sla_warned  # type: ignore[has-type]
                                    if k != "resolve")

    # -- progress --------------------------------------------------------------------------
    def post_progress(self, text: str, author: str, at: datetime, cause: dict[str, Any],
                      next_update_by: datetime | None = None) -> int:
        """Returns the update's number on this incident (1, 2, …). `next_update_by`: when
        the next is due (the progress cadence, domain/cadence.py), said to its audience."""
        self.check_not_finished("take progress updates")
        _check_text("text", text)
        number = self.progress_posted + 1
        more = {"next_update_by": next_update_by} if next_update_by is not None else {}
        self._progress_posted(ref=self.ref, number=number, text=text.strip(), author=author,
                              at=at, actor=author, cause=cause, **more)
        return number

    @event("ProgressPosted")
    def _progress_posted(self, ref: str, number: int, text: str, author: str, at: datetime,
                         actor: str, cause: dict[str, Any],
                         next_update_by: datetime | None = None) -> None:
        self.progress_posted = number

    # -- followers -------------------------------------------------------------------------
    def follow(self, person: str, by: str, at: datetime, cause: dict[str, Any],
               via: str = "hand") -> bool:
        """False (nothing recorded) when they follow it already: a repeated click."""
        self.check_not_finished("be followed")
        _check_text("person", person)
        if person in self.followers:
            return False
        self._followed(ref=self.ref, person=person, by=by, via=via, at=at, actor=by,
                       cause=cause)
        return True

    @event("Followed")
    def _followed(self, ref: str, person: str, by: str, via: str, at: datetime, actor: str,
                  cause: dict[str, Any]) -> None:
        self.followers = (*self.followers, person)
        if via == "reporter":
            self.reporter = person

    def unfollow(self, person: str, by: str, at: datetime, cause: dict[str, Any]) -> bool:
        """False when they did not follow it. The reporter may stop following too."""
        if person not in self.followers:
            return False
        self._unfollowed(ref=self.ref, person=person, by=by, at=at, actor=by, cause=cause)
        return True

    @event("Unfollowed")
    def _unfollowed(self, ref: str, person: str, by: str, at: datetime, actor: str,
                    cause: dict[str, Any]) -> None:
        self.followers = tuple(p for p in self.followers if p != person)


def _check_text(field: str, text: str) -> None:
    if not text or not text.strip():
        raise Invalid(field, "must not be empty")
