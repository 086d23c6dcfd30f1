"""The CAPA case aggregate: root cause and corrective/preventive actions for one resolved
incident, closed only when every action was verified effective by someone other than its owner
and the fix then held: the incident's alert stayed clear for the effectiveness window, or (for
a manual incident) a person other than the owners checked it (docs/adr/effectiveness-window.md)."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from services.capa.domain.effectiveness import day_of, failure_reason, window_name
from services.capa.domain.errors import (
    ActionAlreadyCompleted, ActionNotCompleted, ActionNotFound, CaseClosed, EffectivenessPending,
    InvalidCapaInput, NotTheOwner, NotTheVerifier, VerifierIsOwner,
)
from services.capa.domain.drill import DrillCase
from services.capa.domain.observation import ObservedCase
from services.capa.domain.recurrence import RecurringCase
from services.capa.domain.vocabulary import (
    MAX_WHYS, Action, ActionKind, ActionStatus, CaseStatus, Category, RcaMethod, RootCause,
)

# uuid5(NAMESPACE, incident_id): a redelivered IncidentResolved reaches the same case.
NAMESPACE = uuid5(NAMESPACE_URL, "https://closedloop/capa")


class CapaCase(RecurringCase, DrillCase, ObservedCase):
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

    # -- root cause -------------------------------------------------------------------------
    def record_root_cause(self, *, method: str, statement: str, whys: list[str],
                          category: str | None, contributing_factors: list[dict[str, str]],
                          at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.check_analysing("revise its root cause")
        method = _parse(RcaMethod, "method", method)
        statement = _required("statement", statement, "state the root cause in one sentence")
        whys = [w.strip() for w in whys]
        self.check_whys(method, whys)
        if method is RcaMethod.FISHBONE and not category:
            raise InvalidCapaInput("category", "a fishbone analysis needs the category of the "
                                   "root cause: one of " + ", ".join(Category))
        factors = [{"category": _parse(Category, "contributing_factors.category",
                                       f.get("category")).value,
                    "factor": _required("contributing_factors.factor", f.get("factor", ""),
                                        "describe the factor")}
                   for f in contributing_factors]
        revision = self.root_cause.revision + 1 if self.root_cause else 1
        self._record_root_cause(method.value, statement, whys,
                                _parse(Category, "category", category).value if category else None,
                                factors,
                                revision, at, actor, cause, incident_id=self.incident_id)
        self._close_if_complete(at, actor, cause)

    @event("RootCauseRecorded")
    def _record_root_cause(self, method: str, statement: str, whys: list[str],
                           category: str | None, contributing_factors: list[dict[str, str]],
                           revision: int, at: datetime, actor: str,
                           cause: dict[str, Any], incident_id: str = "") -> None:
        self.root_cause = RootCause(RcaMethod(method), statement, list(whys),
                                    Category(category) if category else None,
                                    list(contributing_factors), revision, actor, at)
        self.reanalysis = None  # a revised root cause answers a failed window

    # -- actions ----------------------------------------------------------------------------
    def add_action(self, *, kind: str, title: str, owner: str, due_date: date,
                   acceptance_criteria: str, at: datetime, actor: str,
                   cause: dict[str, Any], adverse_implications: str = "",
                   entity: str | None = None, verifier: str | None = None) -> str:
        """`entity`: the peer a preventive action protects (举一反三, domain/spread.py);
        `verifier`: who is to verify it, named when planned (never its owner)."""
        self.check_analysing("take new actions")
        kind = _parse(ActionKind, "kind", kind)
        title = _required("title", title, "say what will be done")
        owner = _required("owner", owner, "name the person who owns the action")
        criteria = _required("acceptance_criteria", acceptance_criteria,
                             "say how a verifier will know the action worked")
        if due_date < self.opened_at.date():
            raise InvalidCapaInput("due_date", f"{due_date} is before {self.name} opened on "
                                   f"{self.opened_at.date()}; choose a later date")
        verifier = (verifier or "").strip() or None
        if verifier == owner:
            raise InvalidCapaInput("verifier", f"{owner} owns the action: its verifier must be "
                                   "someone else")
        action_id = f"A-{len(self.actions) + 1}"
        self._add_action(action_id, kind.value, title, owner, due_date, criteria, at, actor, cause,
                         incident_id=self.incident_id,
                         adverse_implications=adverse_implications.strip(),
                         entity=(entity or "").strip() or None, verifier=verifier)
        return action_id

    @event("ActionAdded")
    def _add_action(self, action_id: str, kind: str, title: str, owner: str, due_date: date,
                    acceptance_criteria: str, at: datetime, actor: str,
                    cause: dict[str, Any], incident_id: str = "",
                    adverse_implications: str = "", entity: str | None = None,
                    verifier: str | None = None) -> None:
        self.actions[action_id] = Action(action_id, ActionKind(kind), title, owner, due_date,
                                         acceptance_criteria,
                                         adverse_implications=adverse_implications or None,
                                         entity=entity, assigned_verifier=verifier)

    def complete_action(self, action_id: str, *, evidence: str, as_manager: bool,
                        at: datetime, actor: str, cause: dict[str, Any]) -> None:
        """`actor` is who completes; only the owner, or a manager on the owner's behalf."""
        self.check_analysing("complete actions")
        action = self.action(action_id)
        if actor != action.owner and not as_manager:
            raise NotTheOwner(f"action {action_id} of {self.name} can be completed only by its "
                              f"owner {action.owner} or by a manager; {actor} is neither")
        if action.status is not ActionStatus.OPEN:
            raise ActionAlreadyCompleted(f"action {action_id} of {self.name} cannot be completed "
                                         f"twice: it is already {action.status}")
        evidence = _required("evidence", evidence, "show what was done (link, change id, …)")
        still_open = sum(1 for a in self.actions.values()
                         if a.status is ActionStatus.OPEN and a.id != action_id)
        self._complete_action(action_id, evidence, actor != action.owner, at, actor, cause,
                              incident_id=self.incident_id, kind=action.kind.value,
                              owner=action.owner, open_actions=still_open)

    @event("ActionCompleted")
    def _complete_action(self, action_id: str, evidence: str, on_behalf: bool, at: datetime,
                         actor: str, cause: dict[str, Any], incident_id: str = "",
                         kind: str = "", owner: str = "", open_actions: int = 0) -> None:
        action = self.actions[action_id]
        action.status, action.evidence = ActionStatus.COMPLETED, evidence
        action.completed_by, action.completed_at = actor, at

    def verify_action(self, action_id: str, *, effective: bool, note: str, at: datetime,
                      actor: str, cause: dict[str, Any], adverse_check: str = "") -> None:
        """`actor` is the verifier. Ineffective → the action goes back to its owner.
        `adverse_check`: how the verifier saw that the action's adverse implications did not
        occur (required when the action named any)."""
        self.check_analysing("verify actions")
        action = self.action(action_id)
        self.check_verifier(action, actor)
        if action.status is not ActionStatus.COMPLETED:
            raise ActionNotCompleted(f"action {action_id} of {self.name} cannot be verified: it "
                                     f"is {action.status}, and only a completed action can be")
        if effective:
            if action.adverse_implications and not adverse_check.strip():
                raise InvalidCapaInput("adverse_check", f"action {action_id} may have adverse "
                                       f"implications ({action.adverse_implications}): say how "
                                       "you checked that they did not occur")
            self._verify_action(action_id, self.incident_id, action.kind.value, action.owner,
                                note, at, actor, cause, adverse_check=adverse_check.strip())
            self._close_if_complete(at, actor, cause)
        else:
            note = _required("note", note, f"say why action {action_id} was not effective, so "
                             "its owner knows what to do next")
            self._reopen_action(action_id, note, at, actor, cause)

    @event("ActionVerified")
    def _verify_action(self, action_id: str, incident_id: str, kind: str, owner: str, note: str,
                       at: datetime, actor: str, cause: dict[str, Any],
                       adverse_check: str = "") -> None:
        action = self.actions[action_id]
        action.status, action.verifier, action.verified_at = ActionStatus.VERIFIED, actor, at
        action.note, action.adverse_check = note or None, adverse_check or None
        self.reanalysis = None  # a new action verified after a failed window answers it

    @event("ActionReopened")
    def _reopen_action(self, action_id: str, note: str, at: datetime, actor: str,
                       cause: dict[str, Any]) -> None:
        action = self.actions[action_id]
        action.status, action.note = ActionStatus.OPEN, note
        action.completed_by = action.completed_at = None

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

    def analysis_blockers(self) -> list[str]:
        """What the analysis still lacks before the fix can be watched."""
        blockers = [] if self.root_cause else ["no root cause is recorded"]
        if not any(a.kind is ActionKind.CORRECTIVE for a in self.actions.values()):
            blockers.append("no corrective action exists")
        blockers += [f"action {a.id} is not verified" for a in self.actions.values()
                     if a.status is not ActionStatus.VERIFIED]
        if self.reanalysis:
            blockers.append(f"the effectiveness check failed ({self.reanalysis}): revise the "
                            "root cause or verify a new action")
        return blockers

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
        owners = sorted({a.owner for a in self.actions.values()}
                        | {a.completed_by for a in self.actions.values() if a.completed_by})
        if actor in owners:
            raise VerifierIsOwner(f"the effectiveness check of {self.name} needs someone other "
                                  f"than the action owners ({', '.join(owners)}); {actor} is one")
        text = _required("text", text, "say what was checked and what was seen")
        evidence = _required("evidence", evidence, "show it (link, report, measurement)")
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

    # -- guards -----------------------------------------------------------------------------
    def action(self, action_id: str) -> Action:
        try:
            return self.actions[action_id]
        except KeyError:
            raise ActionNotFound(f"{self.name} has no action {action_id}") from None

    def check_open(self, doing: str) -> None:
        if self.status is CaseStatus.CLOSED:
            raise CaseClosed(f"{self.name} is closed: it cannot {doing} after closure")

    def check_analysing(self, doing: str) -> None:
        """The analysis is frozen while the fix is watched: a re-fire reopens it."""
        self.check_open(doing)
        if self.status is CaseStatus.EFFECTIVENESS:
            raise EffectivenessPending(f"{self.name} is in its effectiveness window: it cannot "
                                       f"{doing} unless the check fails and the case goes back "
                                       "to analysis")

    def check_whys(self, method: RcaMethod, whys: list[str]) -> None:
        if any(not w for w in whys):
            raise InvalidCapaInput("whys", "every why needs an answer; remove the empty ones")
        if method is RcaMethod.FIVE_WHYS and not 1 <= len(whys) <= MAX_WHYS:
            raise InvalidCapaInput("whys", f"a 5-whys analysis needs 1 to {MAX_WHYS} whys, "
                                   f"not {len(whys)}")

    def check_verifier(self, action: Action, verifier: str) -> None:
        if action.assigned_verifier and verifier != action.assigned_verifier:
            raise NotTheVerifier(f"action {action.id} of {self.name} is to be verified by "
                                  f"{action.assigned_verifier}, named when it was planned; "
                                  f"{verifier} is not")
        if verifier == action.owner:
            raise VerifierIsOwner(f"action {action.id} of {self.name} cannot be verified by its "
                                  f"owner {verifier}: verification needs someone else")
        if verifier == action.completed_by:
            raise VerifierIsOwner(f"action {action.id} of {self.name} cannot be verified by "
                                  f"{verifier}, who completed it: verification needs someone else")


def _parse(kind: type[StrEnum], field: str, value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise InvalidCapaInput(field, f"{value!r} is not one of {', '.join(kind)}") from None


def _required(field: str, value: str, fix: str) -> str:
    if not value or not value.strip():
        raise InvalidCapaInput(field, f"must not be empty: {fix}")
    return value.strip()
