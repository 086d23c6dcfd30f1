"""The CAPA case aggregate: root cause and corrective/preventive actions for one resolved
incident, closed only when every action was verified effective by someone other than its owner
and the fix then held: the incident's alert stayed clear for the effectiveness window, or (for
a manual incident) a person other than the owners checked it (docs/adr/effectiveness-window.md)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from services.capa.domain.analysis import (
    AnalysedCase, apply_action_added, apply_completed, apply_reopened, apply_root_cause,
    apply_verified, required_text,
)
from services.capa.domain.drill import DrillCase
from services.capa.domain.effectiveness import day_of, failure_reason, window_name
from services.capa.domain.errors import EffectivenessPending
from services.capa.domain.observation import ObservedCase
from services.capa.domain.recurrence import RecurringCase
from services.capa.domain.vocabulary import Action, CaseStatus, RootCause

# uuid5(NAMESPACE, incident_id): a redelivered IncidentResolved reaches the same case.
NAMESPACE = uuid5(NAMESPACE_URL, "https://closedloop/capa")


class CapaCase(AnalysedCase, RecurringCase, DrillCase, ObservedCase):
    """Commands check their rules, then trigger one private `@event` method that only
    mutates, so replaying old events never re-runs today's rules."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return uuid5(NAMESPACE, incident_id)

    @event("Opened")
    def __init__(self, incident_id: str, ref: str, title: str, severity: str, entity: str,
                 resolved_by: str, resolution: str, at: datetime, actor: str,
                 cause: dict[str, Any], fingerprint: str | None = None,
                 window_seconds: float | None = None, window_reason: str | None = None,
                 drill: bool = False) -> None:
        """`fingerprint`: the alert the incident grew from (none: a manual incident).
        `window_seconds`: the effectiveness window; none only in cases opened before windows
        existed, which close at the last verification as they always did. `window_reason`:
        why it is longer than the severity's setting (the rule evaluates less often)."""
        self.incident_id, self.ref, self.title = incident_id, ref, title
        self.drill = drill  # an exercise: no KPI counts it (drill.py)
        self.fingerprint = fingerprint
        self.window = timedelta(seconds=window_seconds) if window_seconds else None
        self.window_reason = window_reason
        self.window_started_at: datetime | None = None
        self.window_ends_at: datetime | None = None
        self.reanalysis: str | None = None  # why the last effectiveness check failed
        self.effectiveness_failures: list[dict[str, Any]] = []
        self.effectiveness_check: dict[str, Any] | None = None
        self.severity, self.entity = severity, entity
        self.resolved_by, self.resolution = resolved_by, resolution
        self.status = CaseStatus.OPEN
        self.opened_at: datetime = at
        self.closed_at: datetime | None = None
        self.root_cause: RootCause | None = None
        self.actions: dict[str, Action] = {}

    @property
    def name(self) -> str:
        return f"CAPA for {self.ref}"

    # -- analysis events (their rules: domain/analysis.py) -------------------------------
    @event("RootCauseRecorded")
    def _record_root_cause(self, method: str, statement: str, whys: list[str],
                           category: str | None, contributing_factors: list[dict[str, str]],
                           revision: int, at: datetime, actor: str,
                           cause: dict[str, Any], incident_id: str = "") -> None:
        apply_root_cause(self, method, statement, whys, category, contributing_factors,
                         revision, actor, at)

    @event("ActionAdded")
    def _add_action(self, action_id: str, kind: str, title: str, owner: str, due_date: date,
                    acceptance_criteria: str, at: datetime, actor: str,
                    cause: dict[str, Any], incident_id: str = "",
                    adverse_implications: str = "", entity: str | None = None,
                    verifier: str | None = None) -> None:
        apply_action_added(self, action_id, kind, title, owner, due_date, acceptance_criteria,
                           adverse_implications, entity, verifier)

    @event("ActionCompleted")
    def _complete_action(self, action_id: str, evidence: str, on_behalf: bool, at: datetime,
                         actor: str, cause: dict[str, Any], incident_id: str = "",
                         kind: str = "", owner: str = "", open_actions: int = 0) -> None:
        apply_completed(self, action_id, evidence, actor, at)

    @event("ActionVerified")
    def _verify_action(self, action_id: str, incident_id: str, kind: str, owner: str, note: str,
                       at: datetime, actor: str, cause: dict[str, Any],
                       adverse_check: str = "") -> None:
        apply_verified(self, action_id, note, adverse_check, actor, at)

    @event("ActionReopened")
    def _reopen_action(self, action_id: str, note: str, at: datetime, actor: str,
                       cause: dict[str, Any]) -> None:
        apply_reopened(self, action_id, note)

    # -- closure ----------------------------------------------------------------------------
    def closure_blockers(self) -> list[str]:
        """Why the case is not closed yet; empty once it is."""
        if self.status is CaseStatus.EFFECTIVENESS:
            if self.fingerprint is None:
                return ["a person other than the action owners must record an effectiveness "
                        "check"]
            assert self.window and self.window_ends_at
            why = f" ({self.window_reason})" if getattr(self, "window_reason", None) else ""
            return [f"the incident's alert on {self.entity} must stay clear for "
                    f"{window_name(self.window)}, until {self.window_ends_at:%Y-%m-%d %H:%M} UTC"
                    f"{why}", *self.observation_blockers()]
        return self.analysis_blockers() if self.status is CaseStatus.OPEN else []

    def _close_if_complete(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        if self.status is not CaseStatus.OPEN or self.analysis_blockers():
            return
        if self.window is None:  # opened before effectiveness windows existed
            self._close_now(at, actor, cause)
            return
        # A manual incident has no alert to watch: it waits for a person's check instead.
        ends = at + self.window if self.fingerprint else None
        self._start_window(self.incident_id, self.ref, self.fingerprint,
                           self.window.total_seconds(), ends, at, actor, cause)

    @event("EffectivenessWindowStarted")
    def _start_window(self, incident_id: str, ref: str, fingerprint: str | None,
                      window_seconds: float, ends_at: datetime | None, at: datetime, actor: str,
                      cause: dict[str, Any]) -> None:
        self.status = CaseStatus.EFFECTIVENESS
        self.window_started_at, self.window_ends_at = at, ends_at

    def alert_fired(self, *, fingerprint: str, alert_id: str, alert: str, entity: str,
                    fired_at: datetime, at: datetime, actor: str,
                    cause: dict[str, Any]) -> bool:
        """The incident's alert fired again: inside the window the fix did not hold, and the
        case goes back to analysis with the evidence. Anything else changes nothing."""
        if (self.status is not CaseStatus.EFFECTIVENESS or fingerprint != self.fingerprint
                or self.window_ends_at is None or fired_at >= self.window_ends_at):
            return False
        assert self.window and self.window_started_at
        fired_at = max(fired_at, self.window_started_at)  # already firing when it started
        reason = failure_reason(self.ref, alert, entity, self.window_started_at, fired_at,
                                self.window)
        self._fail_effectiveness(self.incident_id, self.ref, fingerprint, alert_id, alert,
                                 entity, fired_at, day_of(self.window_started_at, fired_at),
                                 self.window.total_seconds(), reason, at, actor, cause)
        return True

    @event("EffectivenessFailed")
    def _fail_effectiveness(self, incident_id: str, ref: str, fingerprint: str, alert_id: str,
                            alert: str, entity: str, fired_at: datetime, day: int,
                            window_seconds: float, reason: str, at: datetime, actor: str,
                            cause: dict[str, Any]) -> None:
        self.status, self.reanalysis = CaseStatus.OPEN, reason
        self.window_started_at = self.window_ends_at = None
        self.effectiveness_failures.append({"alert_id": alert_id, "alert": alert,
                                            "entity": entity, "fired_at": fired_at,
                                            "day": day, "reason": reason})

    def close_after_window(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        """The window ended with the alert clear: the fix held."""
        self.check_open("close again")
        if (self.status is not CaseStatus.EFFECTIVENESS or self.window_ends_at is None
                or at < self.window_ends_at):
            raise EffectivenessPending(f"{self.name} cannot close yet: "
                                       + "; ".join(self.closure_blockers()))
        if self.hold_open_if_unobserved(at, actor, cause):  # the metric is silent
            return
        self._close_now(at, actor, cause)

    def record_effectiveness_check(self, *, text: str, evidence: str, at: datetime,
                                   actor: str, cause: dict[str, Any]) -> None:
        """A manual incident's closure: `actor` saw that the fix held, and shows how."""
        self.check_open("record an effectiveness check")
        if self.status is not CaseStatus.EFFECTIVENESS:
            raise EffectivenessPending(f"{self.name} cannot take an effectiveness check yet: "
                                       + "; ".join(self.closure_blockers()))
        if self.fingerprint is not None:
            raise EffectivenessPending(f"{self.name} watches its incident's alert: it closes "
                                       f"by itself if the alert stays clear until "
                                       f"{self.window_ends_at:%Y-%m-%d %H:%M} UTC")
        self.check_not_owner(actor)
        text = required_text("text", text, "say what was checked and what was seen")
        evidence = required_text("evidence", evidence, "show it (link, report, measurement)")
        self._record_check(self.incident_id, text, evidence, at, actor, cause)
        self._close_now(at, actor, cause)

    @event("EffectivenessChecked")
    def _record_check(self, incident_id: str, text: str, evidence: str, at: datetime,
                      actor: str, cause: dict[str, Any]) -> None:
        self.effectiveness_check = {"text": text, "evidence": evidence, "by": actor, "at": at}

    def _close_now(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        assert self.root_cause is not None
        self._close(self.incident_id, self.ref, self.root_cause.statement, len(self.actions),
                    at, actor, cause)

    @event("Closed")
    def _close(self, incident_id: str, ref: str, root_cause: str, actions: int, at: datetime,
               actor: str, cause: dict[str, Any]) -> None:
        self.status, self.closed_at = CaseStatus.CLOSED, at
