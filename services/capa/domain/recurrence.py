"""Recurrence (docs/adr/recurrence.md): a closed case whose signature returns is reopened
within the recurrence period, or linked from the new case beyond it; a signature that keeps
recurring across the organisation becomes a systemic problem, one level above the cases."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.capa.domain.effectiveness import span
from services.capa.domain.systemic import DEFAULT_SYSTEMIC_WINDOW, SystemicCase
from services.capa.domain.vocabulary import CaseStatus
from shared.lengths import parse_length

__all__ = ["parse_length"]  # re-exported: capa settings and tests import it from here

# uuid5 namespace of the aggregates below; differs from the case's, so ids never collide.
RECURRENCE_NAMESPACE = uuid5(UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8"),
                             "https://closedloop/capa/recurrence")


@dataclass(frozen=True)
class RecurrencePolicy:
    """`period`: a return within it reopens the closed case, beyond it a new case is linked.
    `systemic_count` recurrences of one rule within `systemic_period` make a systemic problem
    (seed: 5 in 3 months); its analysed fix must keep the signature away for
    `systemic_window` (docs/adr/systemic-cases.md)."""

    period: timedelta = timedelta(days=90)
    systemic_count: int = 5
    systemic_period: timedelta = timedelta(days=90)
    # A systemic problem's fix holds when its signature stays away this long everywhere.
    systemic_window: timedelta = DEFAULT_SYSTEMIC_WINDOW


def recurrence_reason(ref: str, new_ref: str, after: timedelta) -> str:
    return (f"{ref} recurred as {new_ref} {span(after)} after closure: its actions were not "
            "effective")


class RecurringCase(Aggregate):
    """What a CAPA case knows of recurrence, kept apart from the case's analysis rules.
    Plain class attributes (no annotations, which would become event fields) give cases
    stored before recurrence existed their empty defaults on replay."""

    recurrences = ()  # returns that reopened this case (dicts)
    previous_cases = ()  # closed cases of the same signature, beyond the period

    def recurred_incidents(self) -> set[str]:
        return {r["incident_id"] for r in self.recurrences}

    def recur(self, *, incident_id: str, ref: str, opened_at: datetime, period: timedelta,
              at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        """The case's signature came back as incident `ref`: within `period` of closure the
        actions were not effective and the case goes back to analysis. False when this case
        is not the one to reopen (not closed, too long ago, or this return is known)."""
        case: Any = self
        if (case.status is not CaseStatus.CLOSED or case.closed_at is None
                or incident_id == case.incident_id or incident_id in self.recurred_incidents()
                or opened_at - case.closed_at > period):
            return False
        after = max(opened_at - case.closed_at, timedelta(0))
        self._recur(case.incident_id, case.ref, case.fingerprint or "", case.entity,
                    incident_id, ref, case.closed_at, opened_at, after.total_seconds(),
                    recurrence_reason(case.ref, ref, after), at, actor, cause)
        return True

    @event("Recurred")
    def _recur(self, incident_id: str, ref: str, fingerprint: str, entity: str,
               recurrence_incident_id: str, recurrence_ref: str, closed_at: datetime,
               recurred_at: datetime, after_seconds: float, reason: str, at: datetime,
               actor: str, cause: dict[str, Any]) -> None:
        case: Any = self
        # Back to analysis, like a failed effectiveness window: the closure blockers name
        # the recurrence until the root cause is revised or a new action is verified.
        case.status, case.closed_at, case.reanalysis = CaseStatus.OPEN, None, reason
        case.window_started_at = case.window_ends_at = None
        self.recurrences = (*self.recurrences, {
            "incident_id": recurrence_incident_id, "ref": recurrence_ref,
            "closed_at": closed_at, "recurred_at": recurred_at, "reason": reason})

    problem_recurrences = ()  # closed cases of the same root-cause category and type

    def link_problem_recurrence(self, previous: dict[str, Any], category: str,
                                problem_type: str, at: datetime, actor: str,
                                cause: dict[str, Any]) -> bool:
        """A closed case on this entity had the same root-cause category and problem type
        within the recurrence period: this case carries that history (it is the one being
        analysed); the closed case stays closed. False when it is linked already."""
        if any(p["capa_id"] == previous["capa_id"] for p in self.problem_recurrences):
            return False
        case: Any = self
        after = timedelta(seconds=previous["after_seconds"])
        reason = (f"{case.ref} repeats {previous['ref']} on {case.entity} (root cause "
                  f"{category}, problem type {problem_type}) {span(after)} after it closed: "
                  "its actions were not effective")
        self._link_problem_recurrence(previous["capa_id"], previous["ref"],
                                      previous["closed_at"], previous["after_seconds"],
                                      category, problem_type, reason, at, actor, cause)
        return True

    @event("ProblemRecurrenceLinked")
    def _link_problem_recurrence(self, previous_capa_id: str, previous_ref: str,
                                 closed_at: datetime, after_seconds: float, category: str,
                                 problem_type: str, reason: str, at: datetime, actor: str,
                                 cause: dict[str, Any]) -> None:
        self.problem_recurrences = (*self.problem_recurrences, {
            "capa_id": previous_capa_id, "ref": previous_ref, "closed_at": closed_at,
            "after_seconds": after_seconds, "category": category,
            "problem_type": problem_type, "reason": reason})

    def link_history(self, previous: list[str], at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        """A new case for a signature whose earlier cases closed beyond the period."""
        if previous:
            self._link_history(list(previous), at, actor, cause)

    @event("HistoryLinked")
    def _link_history(self, previous_cases: list[str], at: datetime, actor: str,
                      cause: dict[str, Any]) -> None:
        self.previous_cases = tuple(previous_cases)


# How many of a rule's latest incidents its signature keeps: recurrence looks through the
# latest cases of a rule for a closed one (services/capa/recurrence.py).
RECENT = 200


class Occurrence(NamedTuple):
    incident_id: str
    ref: str
    entity: str
    at: datetime
    capa_id: str  # the case that carries it: its own, or the reopened one
    previous: str = ""  # the closed case it returned after (recurrences only)

    def record(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "ref": self.ref, "entity": self.entity,
                "at": self.at, "capa_id": self.capa_id, "previous": self.previous}


class RuleSignature(Aggregate):
    """One per rule (the alert's name): its incidents across the organisation, which of them
    were recurrences (the rule's problem back after a case of it closed), and the systemic
    problem raised for them. Lets an IncidentOpened find the rule's cases without a table."""

    @staticmethod
    def create_id(rule: str, key: str = "") -> UUID:
        return uuid5(RECURRENCE_NAMESPACE, key or f"rule:{rule}")

    @event("Started")
    def __init__(self, rule: str, at: datetime, actor: str, cause: dict[str, Any],
                 key: str = "") -> None:
        """`key`: the signature (`rule:<rule>`, or `problem:<category>:<type>:` for a root-cause
        category and problem type, whose `rule` is then their name)."""
        self.rule = rule
        self.key = key or f"rule:{rule}"
        # The latest RECENT incidents, as plain tuples: a storm on one rule reads (and, in a
        # consumer batch, copies) the signature once per opening, so it holds nothing that
        # grows with every incident of the rule. Every attribute is plain JSON: the
        # application keeps snapshots of signatures.
        self._recent: list[tuple[Any, ...]] = []
        self._recurrences: list[tuple[Any, ...]] = []
        self.unattached: list[str] = []  # recurrences no systemic problem lists yet
        self.systemic_id: str | None = None
        self.systemic_raised_at: datetime | None = None

    @property
    def incidents(self) -> list[Occurrence]:
        """The rule's latest RECENT incidents, oldest first."""
        return [Occurrence(*o) for o in self._recent]

    @property
    def recurrences(self) -> list[Occurrence]:
        return [Occurrence(*o) for o in self._recurrences]

    def knows(self, incident_id: str) -> bool:
        """Noted among the latest incidents or the recurrences. An older opening published
        again is recognised before it gets here, by its incident's facts (capa's consumer)."""
        return any(o[0] == incident_id for o in self._recent) or any(
            o[0] == incident_id for o in self._recurrences)

    def note(self, occurrence: Occurrence, *, recurrence: bool, at: datetime, actor: str,
             cause: dict[str, Any]) -> None:
        self._note(occurrence.incident_id, occurrence.ref, occurrence.entity, occurrence.at,
                   occurrence.capa_id, recurrence, at, actor, cause, previous=occurrence.previous)

    @event("IncidentNoted")
    def _note(self, incident_id: str, ref: str, entity: str, opened_at: datetime,
              capa_id: str, recurrence: bool, at: datetime, actor: str,
              cause: dict[str, Any], previous: str = "") -> None:
        occurrence = Occurrence(incident_id, ref, entity, opened_at, capa_id, previous)
        self._recent.append(tuple(occurrence))
        del self._recent[:-RECENT]
        # Signatures stored before held every incident id noted: copied with each read, it
        # made a storm's openings cost more with each one (docs/adr/recurrence.md).
        self.__dict__.pop("noted", None)
        if recurrence:
            self._recurrences.append(tuple(occurrence))
            self.unattached.append(incident_id)

    def systemic_due(self, now: datetime, policy: RecurrencePolicy,
                     current_closed: bool = False) -> list[Occurrence]:
        """The recurrences that make a new systemic problem now (empty: none is due). While
        one raised within the period is current and open, new recurrences join it instead;
        once it closed, counting starts again from those it does not list."""
        if self.current_systemic(now, policy) and not current_closed:
            return []
        since = now - policy.systemic_period
        due = [o for o in self.recurrences
               if o.incident_id in self.unattached and o.at > since]
        return due if len(due) >= policy.systemic_count else []

    def current_systemic(self, now: datetime, policy: RecurrencePolicy) -> str | None:
        if self.systemic_raised_at and now - self.systemic_raised_at <= policy.systemic_period:
            return self.systemic_id
        return None

    def attach(self, systemic_id: str, incident_ids: list[str], at: datetime, actor: str,
               cause: dict[str, Any]) -> None:
        self._attach(systemic_id, incident_ids, at, actor, cause)

    @event("SystemicAttached")
    def _attach(self, systemic_id: str, incident_ids: list[str], at: datetime, actor: str,
                cause: dict[str, Any]) -> None:
        if systemic_id != self.systemic_id:
            self.systemic_id, self.systemic_raised_at = systemic_id, at
        self.unattached = [i for i in self.unattached if i not in incident_ids]


class SystemicProblem(SystemicCase):
    """A signature that recurred across the organisation: the case one level above the
    single CAPA cases, listing them, for the accountable manager (上报总部)."""

    @staticmethod
    def create_id(rule: str, incident_id: str) -> UUID:
        return uuid5(RECURRENCE_NAMESPACE, f"systemic:{rule}:{incident_id}")

    @event("Raised")
    def __init__(self, rule: str, incident_id: str, signature: str,
                 recurrences: list[dict[str, Any]], capa_ids: list[str], threshold: int,
                 period_seconds: float, summary: str, at: datetime, actor: str,
                 cause: dict[str, Any], window_seconds: float | None = None) -> None:
        """`incident_id`: the recurrence that raised it (with the rule, its id).
        `window_seconds`: its effectiveness window (none: raised before it had one)."""
        if window_seconds:
            self.window_seconds = window_seconds
        self.signature, self.rule, self.summary = signature, rule, summary
        self.recurrences = list(recurrences)
        self.capa_ids = list(capa_ids)
        self.threshold, self.period_seconds = threshold, period_seconds
        self.raised_at = at

    @property
    def entities(self) -> list[str]:
        return sorted({r["entity"] for r in self.recurrences})

    def link(self, recurrence: dict[str, Any], capa_ids: list[str], at: datetime, actor: str,
             cause: dict[str, Any]) -> None:
        if self.status is not CaseStatus.CLOSED and all(
                r["incident_id"] != recurrence["incident_id"] for r in self.recurrences):
            self._link(recurrence, [c for c in capa_ids if c not in self.capa_ids], at, actor,
                       cause)

    @event("RecurrenceLinked")
    def _link(self, recurrence: dict[str, Any], capa_ids: list[str], at: datetime, actor: str,
              cause: dict[str, Any]) -> None:
        self.recurrences.append(dict(recurrence))
        self.capa_ids += capa_ids


def systemic_summary(rule: str, recurrences: int, period: timedelta, entities: int) -> str:
    return (f"'{rule}' recurred {recurrences} times in {span(period)} on {entities} "
            f"entit{'y' if entities == 1 else 'ies'}: a systemic problem for the accountable "
            "manager")
