"""Recurrence, heard on the bus (docs/adr/recurrence.md): an IncidentOpened whose alert
fingerprint belongs to a closed case reopens it within the recurrence period; every incident
is noted under its rule, and the rule's recurrences across the organisation raise a systemic
problem. Reads only capa's own aggregates (AlertWatch, RuleSignature, the cases)."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from services.capa.domain import CapaCase, CaseStatus
from services.capa.domain.recurrence import (
    RECENT, Occurrence, RecurrencePolicy, RuleSignature, SystemicProblem, systemic_summary,
)
from services.capa.domain.watch import AlertWatch
from shared import causation
from shared.contracts import CloudEvent, IncidentOpened

SYSTEM_ACTOR = "capa"
# Where the scan reads the next cases ahead, and up to where: a few first (it mostly stops at
# the newest), then the rest in two reads.
READ_AHEAD_AT = {0: 10, 10: 50, 50: RECENT}


def rule_of(contract: IncidentOpened) -> str:
    """The organisation-wide signature: the alert's rule (alertname; the title if none)."""
    return (contract.labels.get("alertname") or contract.title).strip()


def earlier_cases(app: Any, fingerprint: str, incident_id: str) -> list[CapaCase]:
    """The cases opened for this alert fingerprint (rule × entity) before this incident."""
    watch = app.get_or_none(AlertWatch.create_id(fingerprint))
    own = str(CapaCase.create_id(incident_id))
    ids = [UUID(i) for i in (watch.cases if watch else []) if i != own]
    # A drill's case is no fix that a real return could prove ineffective.
    return [c for c in (app.get_or_none(i) for i in ids) if c is not None and not c.drill]


def last_closed(cases: list[CapaCase], before: datetime) -> CapaCase | None:
    closed = [c for c in cases if c.status is CaseStatus.CLOSED and c.closed_at is not None
              and c.closed_at <= before]
    return max(closed, key=lambda c: c.closed_at) if closed else None


def history_of(app: Any, fingerprint: str | None, incident_id: str) -> tuple[CapaCase | None,
                                                                          list[str]]:
    """For a resolved incident: the case a return of it reopened (it then gets no case of its
    own), else the closed cases of its fingerprint for the new case to link to."""
    if not fingerprint:
        return None, []
    cases = earlier_cases(app, fingerprint, incident_id)
    carrier = next((c for c in cases if incident_id in c.recurred_incidents()), None)
    return carrier, [str(c.id) for c in cases if c.status is CaseStatus.CLOSED]


class Recurrence:
    def __init__(self, app: Any, policy: RecurrencePolicy) -> None:
        self.app, self.policy = app, policy

    def on_opened(self, envelope: CloudEvent, contract: IncidentOpened) -> list[Any]:
        """The aggregates to save with the opening's tracking row (none for a manual or a
        trial incident: no signature, or nobody is to be told; nor for a drill, which is no
        return of anything)."""
        if not contract.fingerprint or contract.trial or contract.drill:
            return []
        at, cause = self.app.clock.now(), causation.from_message(envelope)
        changed: list[Any] = []
        same_entity = last_closed(earlier_cases(self.app, contract.fingerprint,
                                                contract.incident_id), contract.opened_at)
        carrier = str(CapaCase.create_id(contract.incident_id))
        if same_entity is not None and same_entity.recur(
                incident_id=contract.incident_id, ref=contract.ref,
                opened_at=contract.opened_at, period=self.policy.period, at=at,
                actor=SYSTEM_ACTOR, cause=cause):
            changed.append(same_entity)
            carrier = str(same_entity.id)
        rule = rule_of(contract)
        signature = self.app.get_or_none(RuleSignature.create_id(rule)) or RuleSignature(
            rule=rule, at=at, actor=SYSTEM_ACTOR, cause=cause)
        if signature.knows(contract.incident_id):
            return changed
        previous = same_entity or self._closed_case_of_rule(signature, contract.opened_at)
        if same_entity is None:
            # The incident's own case is made when it resolves: the next openings of a storm
            # on this rule scan past it without asking the store.
            self.app.known_missing([UUID(carrier)])
        occurrence = Occurrence(contract.incident_id, contract.ref, contract.entity,
                                contract.opened_at, carrier,
                                str(previous.id) if previous else "")
        return [*changed, *self.count(signature, occurrence, recurrence=previous is not None,
                                      at=at, cause=cause)]

    def count(self, signature: RuleSignature, occurrence: Occurrence, *, recurrence: bool,
              at: datetime, cause: dict[str, Any]) -> list[Any]:
        """Notes an incident of the signature. Any of them, on any entity, is the signature
        back: inside a systemic problem's window its fix did not hold
        (docs/adr/systemic-cases.md). A recurrence also counts toward a systemic problem."""
        signature.note(occurrence, recurrence=recurrence, at=at, actor=SYSTEM_ACTOR,
                       cause=cause)
        changed: list[Any] = [signature]
        problem = self.current_problem(signature, at)
        if problem is not None and problem.signature_returned(
                incident_id=occurrence.incident_id, ref=occurrence.ref,
                entity=occurrence.entity, opened_at=occurrence.at, at=at, actor=SYSTEM_ACTOR,
                cause=cause):
            changed.append(problem)
        if recurrence:
            changed += self.systemic(signature, occurrence, problem, at, cause)
        return unique(changed)

    def current_problem(self, signature: RuleSignature, at: datetime) -> SystemicProblem | None:
        """The signature's latest systemic problem while it is not closed (its analysis and
        window may outlast the systemic period), or closed within the period."""
        latest = signature.systemic_id
        problem = self.app.get_or_none(UUID(latest)) if latest else None
        if not isinstance(problem, SystemicProblem):
            return None
        if problem.status is CaseStatus.CLOSED and not signature.current_systemic(at,
                                                                                 self.policy):
            return None
        return problem

    def _closed_case_of_rule(self, signature: RuleSignature,
                             before: datetime) -> CapaCase | None:
        """A case of the rule that closed before `before`, newest first. The scan stops at
        the first closed case, or at the latest recurrence (whose closed case is known), so
        a rule whose fix once held costs a few reads per opening, not one per case."""
        recent = list(reversed(signature.incidents[-RECENT:]))
        case_ids = [case_uuid(o.capa_id) for o in recent]
        for index, occurrence in enumerate(recent):
            if index in READ_AHEAD_AT:
                # Inside a consumer batch, the next cases in one query (a storm of one rule
                # scans every recent case, most of them not even created yet: one read each
                # was 200 round trips per opening); a miss then stays known to the batch.
                self.app.read_ahead(case_ids[index:READ_AHEAD_AT[index]], never_snapshotted=True)
            case = self.app.get_or_none(case_ids[index])
            if last_closed([case] if case is not None else [], before) is not None:
                return case
            if occurrence.previous:
                return self.app.get_or_none(UUID(occurrence.previous))
        return None

    def systemic(self, signature: RuleSignature, occurrence: Occurrence,
                 problem: SystemicProblem | None, at: datetime,
                 cause: dict[str, Any]) -> list[Any]:
        """A recurrence joins the signature's current open systemic problem, or raises one
        when enough of them fell within the systemic period (`problem`: the current one)."""
        if problem is not None and problem.status is not CaseStatus.CLOSED:
            problem.link(occurrence.record(), _linked([occurrence]), at, SYSTEM_ACTOR, cause)
            signature.attach(str(problem.id), [occurrence.incident_id], at, SYSTEM_ACTOR, cause)
            return [problem]
        due = signature.systemic_due(at, self.policy, current_closed=problem is not None)
        if not due:
            return []
        problem = SystemicProblem(
            rule=signature.rule, incident_id=occurrence.incident_id,
            signature=signature.key, recurrences=[o.record() for o in due],
            capa_ids=_linked(due), threshold=self.policy.systemic_count,
            period_seconds=self.policy.systemic_period.total_seconds(),
            summary=systemic_summary(signature.rule, len(due), self.policy.systemic_period,
                                     len({o.entity for o in due})),
            at=at, actor=SYSTEM_ACTOR, cause=cause,
            window_seconds=self.policy.systemic_window.total_seconds())
        signature.attach(str(problem.id), [o.incident_id for o in due], at, SYSTEM_ACTOR, cause)
        return [problem]


@lru_cache(maxsize=4 * RECENT)
def case_uuid(capa_id: str) -> UUID:
    """A storm of one rule scans the same recent cases at every opening: parsing each id
    again was a tenth of capa's time."""
    return UUID(capa_id)


def unique(aggregates: list[Any]) -> list[Any]:
    """Each aggregate once (aggregates are not hashable: by identity)."""
    seen: set[int] = set()
    return [a for a in aggregates if not (id(a) in seen or seen.add(id(a)))]


def _linked(occurrences: list[Occurrence]) -> list[str]:
    """The cases a systemic problem lists: those that closed, and those carrying the returns."""
    ids: list[str] = []
    for o in occurrences:
        for capa_id in (o.previous, o.capa_id):
            if capa_id and capa_id not in ids:
                ids.append(capa_id)
    return ids
