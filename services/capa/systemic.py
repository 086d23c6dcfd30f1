"""Commands and reads of a systemic problem as a case (docs/adr/systemic-cases.md): the same
analysis as a CAPA case, run through the capa application's change loop (re-read and re-check
on a concurrent change), then the organisation-wide effectiveness check."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from services.capa.app import CapaApplication, _plain
from services.capa.domain import CapaCase
from services.capa.domain.recurrence import SystemicProblem
from services.capa.postmortem import systemic_postmortem_facts


class SystemicProblems:
    def __init__(self, app: CapaApplication) -> None:
        self.app = app

    def change(self, systemic_id: UUID, command: Any) -> dict[str, Any]:
        problem, _ = self.app._change(systemic_id, command, kind=SystemicProblem)
        return self.read(problem)

    def record_root_cause(self, systemic_id: UUID, *, by: str, cause: dict[str, Any],
                          **analysis: Any) -> dict[str, Any]:
        return self.change(systemic_id, lambda p, at: p.record_root_cause(
            **analysis, at=at, actor=by, cause=cause))

    def add_action(self, systemic_id: UUID, *, by: str, cause: dict[str, Any],
                   **action: Any) -> dict[str, Any]:
        return self.change(systemic_id, lambda p, at: p.add_action(
            **action, at=at, actor=by, cause=cause))

    def complete_action(self, systemic_id: UUID, action_id: str, *, by: str, evidence: str,
                        as_manager: bool, cause: dict[str, Any]) -> dict[str, Any]:
        return self.change(systemic_id, lambda p, at: p.complete_action(
            action_id, evidence=evidence, as_manager=as_manager, at=at, actor=by, cause=cause))

    def verify_action(self, systemic_id: UUID, action_id: str, *, verifier: str,
                      effective: bool, note: str, adverse_check: str,
                      cause: dict[str, Any]) -> dict[str, Any]:
        return self.change(systemic_id, lambda p, at: p.verify_action(
            action_id, effective=effective, note=note, at=at, actor=verifier, cause=cause,
            adverse_check=adverse_check))

    def record_effectiveness_check(self, systemic_id: UUID, *, verifier: str, text: str,
                                   evidence: str, cause: dict[str, Any]) -> dict[str, Any]:
        return self.change(systemic_id, lambda p, at: p.record_effectiveness_check(
            text=text, evidence=evidence, at=at, actor=verifier, cause=cause))

    def get(self, systemic_id: UUID) -> dict[str, Any]:
        return self.read(self.app._get(systemic_id, SystemicProblem))

    def read(self, problem: SystemicProblem) -> dict[str, Any]:
        return {"id": problem.id, "signature": problem.signature, "rule": problem.rule,
                "summary": problem.summary, "threshold": problem.threshold,
                "period_seconds": problem.period_seconds, "raised_at": problem.raised_at,
                "entities": problem.entities, "capa_ids": problem.capa_ids,
                "recurrences": problem.recurrences, "cases": self._cases(problem),
                "status": problem.status.value, "closed_at": problem.closed_at,
                "root_cause": _plain(problem.root_cause) if problem.root_cause else None,
                "actions": [_plain(a) for a in problem.actions.values()],
                "closure_blockers": problem.closure_blockers(self.app.clock.now()),
                "effectiveness": {
                    "window_seconds": problem.window_seconds,
                    "started_at": problem.window_started_at,
                    "ends_at": problem.window_ends_at,
                    "failures": list(problem.effectiveness_failures),
                    "check": problem.effectiveness_check}}

    def postmortem(self, systemic_id: UUID) -> dict[str, Any]:
        """The postmortem's data: the problem with its history and its linked cases read in
        full (their root causes and closures belong in the document)."""
        problem = self.app._get(systemic_id, SystemicProblem)
        read = {**self.read(problem), "history": self.app.history(problem.id)}
        cases = [self.app.case(UUID(i)) for i in problem.capa_ids
                 if isinstance(self.app.get_or_none(UUID(i)), CapaCase)]
        return systemic_postmortem_facts(read, cases)

    def _cases(self, problem: SystemicProblem) -> list[dict[str, Any]]:
        cases = (self.app.get_or_none(UUID(i)) for i in problem.capa_ids)
        return [{"id": str(c.id), "ref": c.ref, "entity": c.entity, "status": c.status.value}
                for c in cases if isinstance(c, CapaCase)]
