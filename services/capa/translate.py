"""Which CAPA domain events the rest of the loop hears about, as public contracts."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.capa.domain import CapaCase
from services.capa.domain.observation import ObservedCase
from services.capa.domain.recurrence import RecurringCase, SystemicProblem
from services.capa.domain.systemic import SystemicCase
from shared.bus.relay import translator
from shared.contracts import (
    CapaActionAdded, CapaActionCompleted, CapaActionVerified, CapaClosed,
    CapaEffectivenessChecked, CapaEffectivenessFailed, CapaEffectivenessStarted, CapaOpened,
    CapaEffectivenessExtended, CapaEffectivenessHeldOpen, CapaRecurred, CapaRootCauseRecorded,
    CapaSystemicProblemClosed, CapaSystemicProblemRaised, Contract,
)


def _opened(e: Any) -> Contract:
    return CapaOpened(capa_id=str(e.originator_id), incident_id=e.incident_id, ref=e.ref,
                      title=e.title, at=e.at)


def _root_cause(e: Any) -> Contract:
    return CapaRootCauseRecorded(
        capa_id=str(e.originator_id), incident_id=e.incident_id, method=e.method,
        statement=e.statement, category=e.category, whys=list(e.whys), revision=e.revision,
        by=e.actor, at=e.at)


def _action_added(e: Any) -> Contract:
    return CapaActionAdded(
        capa_id=str(e.originator_id), incident_id=e.incident_id, action_id=e.action_id,
        kind=e.kind, title=e.title, owner=e.owner, due_date=e.due_date,
        acceptance_criteria=e.acceptance_criteria, by=e.actor, at=e.at,
        adverse_implications=getattr(e, "adverse_implications", "") or None,
        entity=getattr(e, "entity", None), verifier=getattr(e, "verifier", None))


def _action_completed(e: Any) -> Contract:
    return CapaActionCompleted(
        capa_id=str(e.originator_id), incident_id=e.incident_id, action_id=e.action_id,
        kind=e.kind, owner=e.owner, completed_by=e.actor, evidence=e.evidence,
        open_actions=e.open_actions, at=e.at)


def _action_verified(e: Any) -> Contract:
    return CapaActionVerified(capa_id=str(e.originator_id), incident_id=e.incident_id,
                              action_id=e.action_id, kind=e.kind, owner=e.owner,
                              verifier=e.actor, at=e.at,
                              adverse_check=getattr(e, "adverse_check", "") or None)


def _closed(e: Any) -> Contract:
    return CapaClosed(capa_id=str(e.originator_id), incident_id=e.incident_id, ref=e.ref,
                      root_cause=e.root_cause, actions=e.actions, at=e.at)


def _window_started(e: Any) -> Contract:
    return CapaEffectivenessStarted(
        capa_id=str(e.originator_id), incident_id=e.incident_id, ref=e.ref,
        fingerprint=e.fingerprint, window_seconds=e.window_seconds, ends_at=e.ends_at, at=e.at)


def _effectiveness_failed(e: Any) -> Contract:
    return CapaEffectivenessFailed(
        capa_id=str(e.originator_id), incident_id=e.incident_id, ref=e.ref,
        fingerprint=e.fingerprint, alert_id=e.alert_id, alert=e.alert, entity=e.entity,
        fired_at=e.fired_at, day=e.day, window_seconds=e.window_seconds, reason=e.reason,
        at=e.at)


def _held_open(e: Any) -> Contract:
    return CapaEffectivenessHeldOpen(capa_id=str(e.originator_id), incident_id=e.incident_id,
                                     ref=e.ref, fingerprint=e.fingerprint, reason=e.reason,
                                     at=e.at)


def _extended(e: Any) -> Contract | None:
    """Samples resumed: public only when a watched window moved (not during analysis)."""
    if e.ends_at is None:
        return None
    return CapaEffectivenessExtended(capa_id=str(e.originator_id), incident_id=e.incident_id,
                                     ref=e.ref, fingerprint=e.fingerprint,
                                     unobserved_seconds=e.unobserved_seconds,
                                     ends_at=e.ends_at, at=e.at)


def _effectiveness_checked(e: Any) -> Contract:
    return CapaEffectivenessChecked(capa_id=str(e.originator_id), incident_id=e.incident_id,
                                    verifier=e.actor, text=e.text, evidence=e.evidence, at=e.at)


def _recurred(e: Any) -> Contract:
    return CapaRecurred(
        capa_id=str(e.originator_id), incident_id=e.incident_id, ref=e.ref,
        fingerprint=e.fingerprint, entity=e.entity,
        recurrence_incident_id=e.recurrence_incident_id, recurrence_ref=e.recurrence_ref,
        closed_at=e.closed_at, recurred_at=e.recurred_at, after_seconds=e.after_seconds,
        reason=e.reason, at=e.at)


def _systemic_raised(e: Any) -> Contract:
    return CapaSystemicProblemRaised(
        systemic_id=str(e.originator_id), signature=e.signature, rule=e.rule,
        recurrences=len(e.recurrences), threshold=e.threshold, period_seconds=e.period_seconds,
        entities=sorted({r["entity"] for r in e.recurrences}),
        incident_refs=[r["ref"] for r in e.recurrences], capa_ids=list(e.capa_ids),
        summary=e.summary, at=e.at, incident_ids=[r["incident_id"] for r in e.recurrences])


def _systemic_closed(e: Any) -> Contract:
    return CapaSystemicProblemClosed(
        systemic_id=str(e.originator_id), signature=e.signature, rule=e.rule,
        root_cause=e.root_cause, actions=e.actions, capa_ids=list(e.capa_ids),
        incident_ids=list(e.incident_ids), window_seconds=e.window_seconds,
        checked_by=e.actor, check=e.text, evidence=e.evidence, at=e.at)


# Reopened actions, history links and recurrences joining a raised systemic problem stay
# private (people hear them from the case and the systemic problem themselves).
_PUBLIC: dict[type, Callable[[Any], Contract]] = {
    CapaCase.Opened: _opened,
    CapaCase.RootCauseRecorded: _root_cause,
    CapaCase.ActionAdded: _action_added,
    CapaCase.ActionCompleted: _action_completed,
    CapaCase.ActionVerified: _action_verified,
    CapaCase.EffectivenessWindowStarted: _window_started,
    CapaCase.EffectivenessFailed: _effectiveness_failed,
    CapaCase.EffectivenessChecked: _effectiveness_checked,
    CapaCase.Closed: _closed,
    # Triggered on the base class that declares them (services/capa/domain/recurrence.py).
    RecurringCase.Recurred: _recurred,
    ObservedCase.EffectivenessHeldOpen: _held_open,  # a silent metric (domain/observation.py)
    ObservedCase.MetricResumed: _extended,
    SystemicProblem.Raised: _systemic_raised,
    # A systemic problem's analysis stays private (read it at /v1/systemic-problems/{id});
    # its closure is public. Triggered on the class that declares it (domain/systemic.py).
    SystemicCase.Closed: _systemic_closed,
}

to_contract = translator(_PUBLIC)
