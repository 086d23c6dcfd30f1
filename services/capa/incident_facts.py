"""Which incident contracts capa keeps as facts for postmortems, and what of each it keeps."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.capa.domain.incident_facts import FactKind
from shared.contracts import (
    Contract, IncidentAcknowledged, IncidentClosed, IncidentOpened, IncidentProgressPosted,
    IncidentReopened, IncidentResolved, IncidentSeverityChanged, IncidentSlaBreached,
)

# kind, who, and the contract's fields worth telling (as strings: a fact is for reading)
Heard = tuple[FactKind, str, dict[str, str]]


def _opened(c: Any) -> Heard:
    # The problem type (a manual intake's, else the alert's label) lets a root cause find the
    # same category and type on the same entity (docs/adr/systemic-cases.md).
    kind = c.problem_type or c.labels.get("problem_type")
    return FactKind.OPENED, "", {"severity": c.severity, "title": c.title, "entity": c.entity,
                                 "respond_by": c.respond_by.isoformat(),
                                 "resolve_by": c.resolve_by.isoformat(),
                                 **({"problem_type": kind} if kind else {})}


def _severity(c: Any) -> Heard:
    return FactKind.SEVERITY_CHANGED, c.by, {
        "severity": c.severity, "previous": c.previous, "reason": c.reason,
        "respond_by": c.respond_by.isoformat(), "resolve_by": c.resolve_by.isoformat()}


def _resolved(c: Any) -> Heard:
    return FactKind.RESOLVED, c.by, {"severity": c.severity, "summary": c.summary,
                                     "verdict": c.verdict}


def _reopened(c: Any) -> Heard:
    return FactKind.REOPENED, c.by, {"reason": c.reason, "resolve_by": c.resolve_by.isoformat()}


FACTS: dict[type[Contract], Callable[[Any], Heard]] = {
    IncidentOpened: _opened,
    IncidentAcknowledged: lambda c: (FactKind.ACKNOWLEDGED, c.by, {}),
    IncidentSeverityChanged: _severity,
    IncidentSlaBreached: lambda c: (FactKind.SLA_BREACHED, "", {
        "kind": c.kind, "deadline": c.deadline.isoformat()}),
    IncidentProgressPosted: lambda c: (FactKind.PROGRESS, c.author, {"text": c.text}),
    IncidentResolved: _resolved,
    IncidentReopened: _reopened,
    IncidentClosed: lambda c: (FactKind.CLOSED, "", {}),
}


def happened_at(contract: Any) -> Any:
    return contract.opened_at if isinstance(contract, IncidentOpened) else contract.at
