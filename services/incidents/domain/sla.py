"""The SLA clocks: the respond, resolve and close deadlines a policy sets, each warned "at
risk" and recorded as missed at most once, and the pause while the incident awaits its
requester (待用户确认), which moves every running deadline on by the working time it lasted.

The pause is a flag beside the status, not a step of the status flow: an incident can wait
for its requester in any open stage, and returns to the same stage when they answer."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from eventsourcing.domain import event

from services.incidents.domain.core import FINISHED, IncidentCore, stored_as
from services.incidents.domain.errors import NotPaused, SlaAlreadyPaused
from services.incidents.domain.vocabulary import RaciRole

KINDS = ("respond", "resolve", "close")


class WorkingTime(Protocol):
    """An SLA calendar (services/incidents/calendars.py)."""

    def add(self, start: datetime, work: Any) -> datetime: ...

    def working_between(self, start: datetime, end: datetime) -> Any: ...


class IncidentSla(IncidentCore):
    # State older incidents' events never set (no annotations: eventsourcing takes them
    # for fields). Replaced, never mutated.
    close_by = None  # the closure deadline, counted from the resolution
    at_risk_by = {}  # noqa: RUF012  kind → when it becomes at risk
    sla_warned = ()  # kinds warned at risk
    paused_since = None  # awaiting the requester since
    pause_reason = None
    sla_policy = None
    sla_type = None  # the incident type its policy is chosen by

    def deadline_of(self, kind: str) -> datetime | None:
        return {"respond": self.respond_by, "resolve": self.resolve_by,
                "close": self.close_by}[kind]

    def sla_met(self, kind: str) -> bool:
        met = {"respond": self.acknowledged_at, "resolve": self.resolved_at,
               "close": getattr(self, "closed_at", None)}[kind]
        return met is not None

    def _clock_running(self, kind: str) -> bool:
        if self.paused_since is not None or self.status in FINISHED or self.sla_met(kind):
            return False
        # The closure clock runs from the resolution; a reopened incident has none yet.
        return kind != "close" or self.resolved_at is not None

    def sla_at_risk_now(self) -> list[str]:
        """Deadlines warned at risk that are neither met nor missed."""
        return [k for k in self.sla_warned if k not in self.sla_breaches
                and not self.sla_met(k) and (k != "close" or self.resolved_at is not None)]

    # -- breach and risk ---------------------------------------------------------------------
    def record_sla_breach(self, kind: str, at: datetime, actor: str,
                          cause: dict[str, Any]) -> bool:
        """Once per deadline: `respond` when nobody acknowledged by respond_by, `resolve` when
        service was not restored by resolve_by, `close` when the case did not close by
        close_by. False when there is nothing to record (met, paused, not due)."""
        deadline = self.deadline_of(kind)
        if kind in self.sla_breaches or deadline is None or at < deadline \
                or not self._clock_running(kind):
            return False
        self._sla_breached(kind=kind, deadline=deadline, severity=str(self.severity),
                           ref=self.ref, at=at, actor=actor, cause=cause)
        return True

    @event("SlaBreached", topic=stored_as("SlaBreached"))
    def _sla_breached(self, kind: str, deadline: datetime, severity: str, ref: str,
                      at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.sla_breaches.append(kind)

    def record_sla_at_risk(self, kind: str, at: datetime, actor: str,
                           cause: dict[str, Any]) -> bool:
        """Once per deadline, when the policy's share of its time has passed and it is still
        running; a deadline already missed is a breach, not a risk."""
        risk, deadline = self.at_risk_by.get(kind), self.deadline_of(kind)
        if risk is None or deadline is None or kind in self.sla_warned \
                or kind in self.sla_breaches or not risk <= at < deadline \
                or not self._clock_running(kind):
            return False
        self._sla_at_risk(kind=kind, deadline=deadline, severity=str(self.severity),
                          ref=self.ref, responsible=list(self.raci[RaciRole.RESPONSIBLE]),
                          at=at, actor=actor, cause=cause)
        return True

    @event("SlaAtRisk")
    def _sla_at_risk(self, kind: str, deadline: datetime, severity: str, ref: str,
                     responsible: list[str], at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        self.sla_warned = (*self.sla_warned, kind)

    # -- the closure clock -------------------------------------------------------------------
    def start_close_clock(self, close_by: datetime, at_risk: datetime | None, at: datetime,
                          actor: str, cause: dict[str, Any]) -> None:
        """Service restored: the CAPA case and closure now have until close_by."""
        self._close_clock_started(ref=self.ref, close_by=close_by, at_risk=at_risk, at=at,
                                  actor=actor, cause=cause)

    @event("CloseClockStarted")
    def _close_clock_started(self, ref: str, close_by: datetime, at_risk: datetime | None,
                             at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.close_by = close_by
        self.at_risk_by = {**self.at_risk_by, **({"close": at_risk} if at_risk else {})}
        self.sla_warned = tuple(k for k in self.sla_warned if k != "close")

    # -- the pause ---------------------------------------------------------------------------
    def pause_sla(self, reason: str, by: str, at: datetime, cause: dict[str, Any]) -> None:
        """Awaiting the requester (待用户确认): the SLA clocks stop."""
        self.check_not_finished("await its requester")
        if self.paused_since is not None:
            raise SlaAlreadyPaused(
                f"incident {self.ref} is already awaiting its requester (since "
                f"{self.paused_since.isoformat()}); resume it first")
        self._sla_paused(ref=self.ref, reason=reason.strip(), by=by, at=at, actor=by,
                         cause=cause)

    @event("SlaPaused")
    def _sla_paused(self, ref: str, reason: str, by: str, at: datetime, actor: str,
                    cause: dict[str, Any]) -> None:
        self.paused_since, self.pause_reason = at, reason

    def resume_sla(self, calendar: WorkingTime, by: str, at: datetime,
                   cause: dict[str, Any]) -> None:
        """The requester answered: every running deadline moves on by the working time the
        pause lasted on the policy's calendar (the time left at the pause is left now)."""
        since = self.paused_since
        if since is None:
            raise NotPaused(f"incident {self.ref} is not awaiting its requester; nothing to "
                            "resume")
        deadlines, risks = {}, {}
        for kind in KINDS:
            due = self.deadline_of(kind)
            if due is None or self.sla_met(kind) or kind in self.sla_breaches:
                continue
            deadlines[kind] = calendar.add(at, calendar.working_between(since, due))
            if (risk := self.at_risk_by.get(kind)) and kind not in self.sla_warned:
                risks[kind] = calendar.add(at, calendar.working_between(since, risk))
        paused = calendar.working_between(since, at).total_seconds()
        self._sla_resumed(ref=self.ref, by=by, paused_since=since, paused_seconds=paused,
                          deadlines=deadlines, at_risk=risks, at=at, actor=by, cause=cause)

    @event("SlaResumed")
    def _sla_resumed(self, ref: str, by: str, paused_since: datetime, paused_seconds: float,
                     deadlines: dict[str, datetime], at_risk: dict[str, datetime],
                     at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.paused_since, self.pause_reason = None, None
        self.respond_by = deadlines.get("respond", self.respond_by)
        self.resolve_by = deadlines.get("resolve", self.resolve_by)
        self.close_by = deadlines.get("close", self.close_by)
        self.at_risk_by = {**self.at_risk_by, **at_risk}


class SlaClocks:
    """The deadlines a policy sets on an opening, a re-grade or a reopening."""

    def __init__(self, respond_by: datetime, resolve_by: datetime,
                 at_risk: dict[str, datetime] | None = None, policy: str | None = None) -> None:
        self.respond_by, self.resolve_by = respond_by, resolve_by
        self.at_risk, self.policy = at_risk or {}, policy

    def extra(self) -> dict[str, Any]:
        """What an event records beside the deadlines (nothing for the shipped defaults, so
        their events read as before)."""
        return {k: v for k, v in (("at_risk", self.at_risk), ("policy", self.policy)) if v}


def incident_type(alert: dict[str, Any]) -> str | None:
    """The type an incident's SLA policy is chosen by: the opening alert's problem type, or
    the classified type of an incident declared by hand (its intake)."""
    labels = alert.get("labels") or {}
    found = (alert.get("problem_type") or (alert.get("intake") or {}).get("problem_type")
             or labels.get("problem_type") or labels.get("category"))
    return str(found) if found else None
