"""A systemic problem as a case of its own (docs/adr/systemic-cases.md): the analysis rules of
a CAPA case (domain/analysis.py), then an organisation-wide effectiveness check: the
signature must not return on any entity for the systemic window, after which a person other
than the action owners (e.g. the accountable manager) confirms the fix and the problem closes.

`SystemicCase` is the base of `SystemicProblem` (domain/recurrence.py), whose stored events
keep their topics; the events declared here are stored under this class's topic. Plain class
attributes give problems raised before they could be analysed their empty defaults."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.capa.domain.analysis import (
    AnalysedCase, apply_action_added, apply_completed, apply_reopened, apply_root_cause,
    apply_verified, required_text,
)
from services.capa.domain.effectiveness import day_of, span, window_name
from services.capa.domain.errors import EffectivenessPending
from services.capa.domain.vocabulary import CaseStatus

# How long the signature must stay away across the organisation before a person may confirm
# that the systemic fix held (CLOSEDLOOP_CAPA_SYSTEMIC_WINDOW).
DEFAULT_SYSTEMIC_WINDOW = timedelta(days=30)


def return_reason(rule: str, ref: str, entity: str, started: datetime, opened: datetime,
                  window: timedelta) -> str:
    return (f"'{rule}' returned on {entity} as {ref} {day_of(started, opened)} days into "
            f"{window_name(window)} across the organisation")


class SystemicCase(AnalysedCase, Aggregate):
    incident_id = ""  # a systemic problem analyses no single incident
    status = CaseStatus.OPEN
    root_cause = None
    # Replaced, never changed in place (analysis.apply_action_added): a shared default.
    actions = {}  # type: ignore[var-annotated]
    reanalysis = None
    window_seconds = DEFAULT_SYSTEMIC_WINDOW.total_seconds()
    window_started_at = None
    window_ends_at = None
    effectiveness_failures = ()
    effectiveness_check = None
    closed_at = None

    @property
    def name(self) -> str:
        problem: Any = self
        return f"systemic problem '{problem.rule}'"

    @property
    def opened_at(self) -> datetime:
        problem: Any = self
        return problem.raised_at

    # -- analysis events (their rules: domain/analysis.py) ----------------------------------
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

    # -- the organisation-wide effectiveness window ------------------------------------------
    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)

    def _close_if_complete(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        """Every action verified and a root cause: the signature is watched everywhere."""
        if self.status is CaseStatus.OPEN and not self.analysis_blockers():
            self._start_window(self.window_seconds, at + self.window, at, actor, cause)

    @event("EffectivenessWindowStarted")
    def _start_window(self, window_seconds: float, ends_at: datetime, at: datetime, actor: str,
                      cause: dict[str, Any]) -> None:
        self.status = CaseStatus.EFFECTIVENESS
        self.window_started_at, self.window_ends_at = at, ends_at

    def signature_returned(self, *, incident_id: str, ref: str, entity: str,
                           opened_at: datetime, at: datetime, actor: str,
                           cause: dict[str, Any]) -> bool:
        """An incident of the signature opened somewhere: inside the window the systemic fix
        did not hold and the problem goes back to analysis with the evidence."""
        if (self.status is not CaseStatus.EFFECTIVENESS or self.window_started_at is None
                or self.window_ends_at is None or opened_at >= self.window_ends_at):
            return False
        opened_at = max(opened_at, self.window_started_at)
        problem: Any = self
        reason = return_reason(problem.rule, ref, entity, self.window_started_at, opened_at,
                               self.window)
        self._fail(incident_id, ref, entity, opened_at,
                   day_of(self.window_started_at, opened_at), reason, at, actor, cause)
        return True

    @event("EffectivenessFailed")
    def _fail(self, incident_id: str, ref: str, entity: str, opened_at: datetime, day: int,
              reason: str, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.status, self.reanalysis = CaseStatus.OPEN, reason
        self.window_started_at = self.window_ends_at = None
        self.effectiveness_failures = (*self.effectiveness_failures, {
            "incident_id": incident_id, "ref": ref, "entity": entity, "opened_at": opened_at,
            "day": day, "reason": reason})

    def closure_blockers(self, now: datetime) -> list[str]:
        """Why the problem is not closed yet, in words; empty once it is."""
        if self.status is CaseStatus.OPEN:
            return self.analysis_blockers()
        if self.status is CaseStatus.CLOSED:
            return []
        assert self.window_ends_at is not None
        blockers = []
        if now < self.window_ends_at:
            problem: Any = self
            blockers.append(
                f"'{problem.rule}' must not return on any entity for {window_name(self.window)}, "
                f"until {self.window_ends_at:%Y-%m-%d %H:%M} UTC "
                f"({span(self.window_ends_at - now)} left)")
        return [*blockers, "a person other than the action owners must record the "
                           "effectiveness check"]

    def record_effectiveness_check(self, *, text: str, evidence: str, at: datetime,
                                   actor: str, cause: dict[str, Any]) -> None:
        """The window passed with the signature away: `actor` confirms the fix and closes."""
        self.check_open("record an effectiveness check")
        if self.status is not CaseStatus.EFFECTIVENESS or (
                self.window_ends_at is not None and at < self.window_ends_at):
            raise EffectivenessPending(f"{self.name} cannot close yet: "
                                       + "; ".join(self.closure_blockers(at)))
        self.check_not_owner(actor)
        text = required_text("text", text, "say what was checked across the organisation")
        evidence = required_text("evidence", evidence, "show it (link, audit, report)")
        assert self.root_cause is not None
        problem: Any = self
        self._check_and_close(problem.signature, problem.rule, text, evidence,
                              self.root_cause.statement, len(self.actions),
                              list(problem.capa_ids),
                              [r["incident_id"] for r in problem.recurrences],
                              self.window_seconds, at, actor, cause)

    @event("Closed")
    def _check_and_close(self, signature: str, rule: str, text: str, evidence: str,
                         root_cause: str, actions: int, capa_ids: list[str],
                         incident_ids: list[str], window_seconds: float, at: datetime,
                         actor: str, cause: dict[str, Any]) -> None:
        self.effectiveness_check = {"text": text, "evidence": evidence, "by": actor, "at": at}
        self.status, self.closed_at = CaseStatus.CLOSED, at
