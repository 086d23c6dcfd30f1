"""The CAPA case aggregate: root cause and corrective/preventive actions for one resolved
incident, closed only when every action was verified effective by someone other than its owner."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.capa.domain.vocabulary import (
    MAX_WHYS, Action, ActionKind, ActionStatus, CaseStatus, Category, RcaMethod, RootCause,
)
from shared.errors import DomainError, Invalid, NotFound

# uuid5(NAMESPACE, incident_id): a redelivered IncidentResolved reaches the same case.
NAMESPACE = uuid5(NAMESPACE_URL, "https://closedloop/capa")


class CapaCase(Aggregate):
    """Commands check their rules, then trigger one private `@event` method that only
    mutates, so replaying old events never re-runs today's rules."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return uuid5(NAMESPACE, incident_id)

    @event("Opened")
    def __init__(self, incident_id: str, ref: str, title: str, severity: str, entity: str,
                 resolved_by: str, resolution: str, at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        self.incident_id, self.ref, self.title = incident_id, ref, title
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
        self.check_open("revise its root cause")
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

    # -- actions ----------------------------------------------------------------------------
    def add_action(self, *, kind: str, title: str, owner: str, due_date: date,
                   acceptance_criteria: str, at: datetime, actor: str,
                   cause: dict[str, Any]) -> str:
        self.check_open("take new actions")
        kind = _parse(ActionKind, "kind", kind)
        title = _required("title", title, "say what will be done")
        owner = _required("owner", owner, "name the person who owns the action")
        criteria = _required("acceptance_criteria", acceptance_criteria,
                             "say how a verifier will know the action worked")
        if due_date < self.opened_at.date():
            raise InvalidCapaInput("due_date", f"{due_date} is before {self.name} opened on "
                                   f"{self.opened_at.date()}; choose a later date")
        action_id = f"A-{len(self.actions) + 1}"
        self._add_action(action_id, kind.value, title, owner, due_date, criteria, at, actor, cause,
                         incident_id=self.incident_id)
        return action_id

    @event("ActionAdded")
    def _add_action(self, action_id: str, kind: str, title: str, owner: str, due_date: date,
                    acceptance_criteria: str, at: datetime, actor: str,
                    cause: dict[str, Any], incident_id: str = "") -> None:
        self.actions[action_id] = Action(action_id, ActionKind(kind), title, owner, due_date,
                                         acceptance_criteria)

    def complete_action(self, action_id: str, *, evidence: str, as_manager: bool,
                        at: datetime, actor: str, cause: dict[str, Any]) -> None:
        """`actor` is who completes; only the owner, or a manager on the owner's behalf."""
        self.check_open("complete actions")
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
                      actor: str, cause: dict[str, Any]) -> None:
        """`actor` is the verifier. Ineffective → the action goes back to its owner."""
        self.check_open("verify actions")
        action = self.action(action_id)
        self.check_verifier(action, actor)
        if action.status is not ActionStatus.COMPLETED:
            raise ActionNotCompleted(f"action {action_id} of {self.name} cannot be verified: it "
                                     f"is {action.status}, and only a completed action can be")
        if effective:
            self._verify_action(action_id, self.incident_id, action.kind.value, action.owner,
                                note, at, actor, cause)
            self._close_if_complete(at, actor, cause)
        else:
            note = _required("note", note, f"say why action {action_id} was not effective, so "
                             "its owner knows what to do next")
            self._reopen_action(action_id, note, at, actor, cause)

    @event("ActionVerified")
    def _verify_action(self, action_id: str, incident_id: str, kind: str, owner: str, note: str,
                       at: datetime, actor: str, cause: dict[str, Any]) -> None:
        action = self.actions[action_id]
        action.status, action.verifier, action.verified_at = ActionStatus.VERIFIED, actor, at
        action.note = note or None

    @event("ActionReopened")
    def _reopen_action(self, action_id: str, note: str, at: datetime, actor: str,
                       cause: dict[str, Any]) -> None:
        action = self.actions[action_id]
        action.status, action.note = ActionStatus.OPEN, note
        action.completed_by = action.completed_at = None

    # -- closure ----------------------------------------------------------------------------
    def closure_blockers(self) -> list[str]:
        """Why the case cannot close yet; empty when it can."""
        blockers = [] if self.root_cause else ["no root cause is recorded"]
        if not any(a.kind is ActionKind.CORRECTIVE for a in self.actions.values()):
            blockers.append("no corrective action exists")
        blockers += [f"action {a.id} is not verified" for a in self.actions.values()
                     if a.status is not ActionStatus.VERIFIED]
        return blockers

    def _close_if_complete(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        if self.status is CaseStatus.OPEN and not self.closure_blockers():
            assert self.root_cause is not None
            self._close(self.incident_id, self.ref, self.root_cause.statement,
                        len(self.actions), at, actor, cause)

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

    def check_whys(self, method: RcaMethod, whys: list[str]) -> None:
        if any(not w for w in whys):
            raise InvalidCapaInput("whys", "every why needs an answer; remove the empty ones")
        if method is RcaMethod.FIVE_WHYS and not 1 <= len(whys) <= MAX_WHYS:
            raise InvalidCapaInput("whys", f"a 5-whys analysis needs 1 to {MAX_WHYS} whys, "
                                   f"not {len(whys)}")

    def check_verifier(self, action: Action, verifier: str) -> None:
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


class CapaNotFound(NotFound):
    """No CAPA case has this id."""


class ActionNotFound(NotFound):
    """The case has no action with this id."""


class InvalidCapaInput(Invalid):
    """A root cause or action whose content breaks a rule (names the field)."""


class CaseClosed(DomainError):
    """A closed case accepts no new root cause, actions, completions or verifications."""


class NotTheOwner(DomainError):
    """Only an action's owner (or a manager) may complete it."""


class ActionAlreadyCompleted(DomainError):
    """An action is completed once; an ineffective verification reopens it."""


class ActionNotCompleted(DomainError):
    """Only a completed action can be verified."""


class VerifierIsOwner(DomainError):
    """Verification needs someone other than the action's owner (and its completer)."""
