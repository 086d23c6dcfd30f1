"""A manually reported incident's intake: its source, report and classification, and the
corrections people make to its problem type and severity (the learned classifier's labels)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from shared.errors import DomainError

from services.incidents.domain.core import IncidentCore
from services.incidents.domain.sla import SlaClocks
from services.incidents.domain.vocabulary import Severity


class ClassificationUnchanged(DomainError):
    """A correction must change the problem type or the severity."""


class IncidentIntake(IncidentCore):
    intake = None  # class default: incidents an alert raised have no intake
    corrections = 0

    @property
    def problem_type(self) -> str | None:
        return (self.intake or {}).get("problem_type")

    def correct_classification(self, problem_type: str | None, severity: Severity | None,
                               reason: str, by: str, at: datetime,
                               cause: dict[str, Any], manager: bool = True,
                               clocks: SlaClocks | None = None) -> None:
        """The type becomes a label for the classifier (and the type the SLA policy is chosen
        by from now on); a new severity moves the deadlines as any severity change does, to
        `clocks` when given, and lowering it takes a manager as any re-grade does. Every
        check passes before anything is recorded."""
        self.check_not_finished("be reclassified")
        new_type = problem_type if problem_type is not None else self.problem_type
        new_severity = severity if severity is not None else self.severity  # type: ignore[attr-defined]
        if new_type == self.problem_type and new_severity == self.severity:  # type: ignore[attr-defined]
            raise ClassificationUnchanged(
                f"incident {self.ref} is already {new_type} at {new_severity}: "  # type: ignore[attr-defined]
                "send a different problem_type or severity")
        self.check_may_regrade(new_severity, manager)  # type: ignore[attr-defined]
        self._reclassified(ref=self.ref, problem_type=new_type,  # type: ignore[attr-defined]
                           previous_type=self.problem_type, severity=str(new_severity),
                           previous_severity=str(self.severity),  # type: ignore[attr-defined]
                           reason=reason, by=by, at=at, actor=by, cause=cause)
        if new_severity != self.severity:  # type: ignore[attr-defined]
            self.change_severity(  # type: ignore[attr-defined]
                new_severity, reason, by, at, cause, clocks)

    @event("Reclassified")
    def _reclassified(self, ref: str, problem_type: str | None, previous_type: str | None,
                      severity: str, previous_severity: str, reason: str, by: str,
                      at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.intake = {**(self.intake or {}), "problem_type": problem_type, "labelled": True}
        self.corrections += 1
        if problem_type:
            self.sla_type = problem_type
