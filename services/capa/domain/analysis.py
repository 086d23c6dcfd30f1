"""The analysis rules every case shares (docs/adr/systemic-cases.md): a root cause by 5 whys
or fishbone (人机料法环测), corrective and preventive actions with owners, completion by the
owner (or a manager), verification by someone else. A CAPA case and a systemic problem both
mix this in and declare their own `@event` methods (`_record_root_cause`, `_add_action`,
`_complete_action`, `_verify_action`, `_reopen_action`, `_close_if_complete`): an event
declared here would be stored under this module's topic, and the CAPA case's events must
keep theirs. The `apply_*` functions are what those event methods do to the case."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from services.capa.domain.errors import (
    ActionAlreadyCompleted, ActionNotCompleted, ActionNotFound, CaseClosed, EffectivenessPending,
    InvalidCapaInput, NotTheOwner, NotTheVerifier, VerifierIsOwner,
)
from services.capa.domain.vocabulary import (
    MAX_WHYS, Action, ActionKind, ActionStatus, CaseStatus, Category, RcaMethod, RootCause,
)


class AnalysedCase:
    """Commands check their rules, then trigger the case's private `@event` method. The case
    provides `name`, `incident_id` (\"\" when it has none), `opened_at`, `status`,
    `root_cause`, `actions` and `reanalysis`."""

    # -- root cause -------------------------------------------------------------------------
    def record_root_cause(self, *, method: str, statement: str, whys: list[str],
                          category: str | None, contributing_factors: list[dict[str, str]],
                          at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.check_analysing("revise its root cause")
        method = parse_choice(RcaMethod, "method", method)
        statement = required_text("statement", statement, "state the root cause in one sentence")
        whys = [w.strip() for w in whys]
        self.check_whys(method, whys)
        if method is RcaMethod.FISHBONE and not category:
            raise InvalidCapaInput("category", "a fishbone analysis needs the category of the "
                                   "root cause: one of " + ", ".join(Category))
        factors = [{"category": parse_choice(Category, "contributing_factors.category",
                                             f.get("category")).value,
                    "factor": required_text("contributing_factors.factor", f.get("factor", ""),
                                            "describe the factor")}
                   for f in contributing_factors]
        revision = self.root_cause.revision + 1 if self.root_cause else 1
        parsed = parse_choice(Category, "category", category).value if category else None
        self._record_root_cause(method.value, statement, whys, parsed, factors, revision, at,
                                actor, cause, incident_id=self.incident_id)
        self._close_if_complete(at, actor, cause)

    # -- actions ----------------------------------------------------------------------------
    def add_action(self, *, kind: str, title: str, owner: str, due_date: date,
                   acceptance_criteria: str, at: datetime, actor: str,
                   cause: dict[str, Any], adverse_implications: str = "",
                   entity: str | None = None, verifier: str | None = None) -> str:
        """`entity`: the peer a preventive action protects (举一反三, domain/spread.py);
        `verifier`: who is to verify it, named when planned (never its owner)."""
        self.check_analysing("take new actions")
        kind = parse_choice(ActionKind, "kind", kind)
        title = required_text("title", title, "say what will be done")
        owner = required_text("owner", owner, "name the person who owns the action")
        criteria = required_text("acceptance_criteria", acceptance_criteria,
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
        evidence = required_text("evidence", evidence, "show what was done (link, change id, …)")
        still_open = sum(1 for a in self.actions.values()
                         if a.status is ActionStatus.OPEN and a.id != action_id)
        self._complete_action(action_id, evidence, actor != action.owner, at, actor, cause,
                              incident_id=self.incident_id, kind=action.kind.value,
                              owner=action.owner, open_actions=still_open)

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
            note = required_text("note", note, f"say why action {action_id} was not "
                                 "effective, so its owner knows what to do next")
            self._reopen_action(action_id, note, at, actor, cause)

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

    def check_not_owner(self, actor: str) -> None:
        """An effectiveness check needs someone who neither owns nor completed an action."""
        owners = sorted({a.owner for a in self.actions.values()}
                        | {a.completed_by for a in self.actions.values() if a.completed_by})
        if actor in owners:
            raise VerifierIsOwner(f"the effectiveness check of {self.name} needs someone other "
                                  f"than the action owners ({', '.join(owners)}); {actor} is one")

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


def parse_choice(kind: type[StrEnum], field: str, value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise InvalidCapaInput(field, f"{value!r} is not one of {', '.join(kind)}") from None


def required_text(field: str, value: str, fix: str) -> str:
    if not value or not value.strip():
        raise InvalidCapaInput(field, f"must not be empty: {fix}")
    return value.strip()


# -- what the event methods do (replaying old events never re-runs today's rules) ----------
def apply_root_cause(case: Any, method: str, statement: str, whys: list[str],
                     category: str | None, factors: list[dict[str, str]], revision: int,
                     actor: str, at: datetime) -> None:
    case.root_cause = RootCause(RcaMethod(method), statement, list(whys),
                                Category(category) if category else None, list(factors),
                                revision, actor, at)
    case.reanalysis = None  # a revised root cause answers a failed window


def apply_action_added(case: Any, action_id: str, kind: str, title: str, owner: str,
                       due_date: date, criteria: str, adverse_implications: str,
                       entity: str | None, verifier: str | None) -> None:
    # A new dict: a class-level default (cases stored before they had actions) stays empty.
    case.actions = {**case.actions, action_id: Action(
        action_id, ActionKind(kind), title, owner, due_date, criteria,
        adverse_implications=adverse_implications or None, entity=entity,
        assigned_verifier=verifier)}


def apply_completed(case: Any, action_id: str, evidence: str, actor: str, at: datetime) -> None:
    action = case.actions[action_id]
    action.status, action.evidence = ActionStatus.COMPLETED, evidence
    action.completed_by, action.completed_at = actor, at


def apply_verified(case: Any, action_id: str, note: str, adverse_check: str, actor: str,
                   at: datetime) -> None:
    action = case.actions[action_id]
    action.status, action.verifier, action.verified_at = ActionStatus.VERIFIED, actor, at
    action.note, action.adverse_check = note or None, adverse_check or None
    case.reanalysis = None  # a new action verified after a failed window answers it


def apply_reopened(case: Any, action_id: str, note: str) -> None:
    action = case.actions[action_id]
    action.status, action.note = ActionStatus.OPEN, note
    action.completed_by = action.completed_at = None
