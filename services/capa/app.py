"""The CAPA application: opens a case for every resolved incident and runs the API's
commands on it (get → call → save); queries return plain data."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Transcoding

from services.capa.domain import CapaCase, CapaNotFound
from services.capa.domain.incident_facts import IncidentFacts
from services.capa.incident_facts import FACTS, happened_at
from shared import causation
from shared.bus.consumer import Rejected
from shared.clock import Clock
from shared.contracts import CloudEvent, Contract, IncidentResolved
from shared.store import ServiceApplication, Tracking

SYSTEM_ACTOR = "capa"  # the service itself, acting on a message (the cause says which)
_EVENT_ENVELOPE = {"originator_id", "originator_version", "originator_topic", "timestamp",
                   "at", "actor", "cause"}


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class CapaApplication(ServiceApplication):
    def __init__(self, env: dict[str, str] | None, clock: Clock) -> None:
        self.clock = clock
        super().__init__(env)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # -- messages ---------------------------------------------------------------------------
    def handle_incident_fact(self, envelope: CloudEvent, contract: Contract,
                             tracking: Tracking) -> None:
        self.save_tracked(*self._heard(envelope, contract), tracking=tracking)

    def _heard(self, envelope: CloudEvent, contract: Any) -> list[IncidentFacts]:
        """The incident's facts with this contract's fact added, to save ([] if known)."""
        if not contract.incident_id.strip():
            raise Rejected(f"{type(contract).__name__} without an incident_id names no incident")
        facts_id = IncidentFacts.create_id(contract.incident_id)
        facts = self.get_or_none(facts_id)
        cause = causation.from_message(envelope)
        if facts is None:
            facts = IncidentFacts(incident_id=contract.incident_id, at=self.clock.now(),
                                  actor=SYSTEM_ACTOR, cause=cause)
        kind, by, data = FACTS[type(contract)](contract)
        recorded = facts.record(kind, happened_at(contract), by, data, at=self.clock.now(),
                                actor=SYSTEM_ACTOR, cause=cause)
        return [facts] if recorded else []

    def handle_incident_resolved(self, envelope: CloudEvent, contract: IncidentResolved,
                                 tracking: Tracking) -> None:
        if not contract.incident_id.strip():
            raise Rejected("IncidentResolved without an incident_id cannot open a CAPA case")
        facts = self._heard(envelope, contract)
        case_id = CapaCase.create_id(contract.incident_id)
        if self.get_or_none(case_id) is not None:  # redelivered, or resolved again
            self.save_tracked(*facts, tracking=tracking)
            return
        case = CapaCase(incident_id=contract.incident_id, ref=contract.ref, title=contract.title,
                        severity=contract.severity, entity=contract.entity,
                        resolved_by=contract.by, resolution=contract.summary,
                        at=self.clock.now(), actor=SYSTEM_ACTOR,
                        cause=causation.from_message(envelope))
        self.save_tracked(case, *facts, tracking=tracking)

    # -- commands ---------------------------------------------------------------------------
    def record_root_cause(self, capa_id: UUID, *, by: str, cause: dict[str, Any],
                          **analysis: Any) -> dict[str, Any]:
        case, _ = self._change(capa_id, lambda case, at: case.record_root_cause(
            **analysis, at=at, actor=by, cause=cause))
        return self._read(case)

    def add_action(self, capa_id: UUID, *, by: str, cause: dict[str, Any],
                   **action: Any) -> dict[str, Any]:
        case, action_id = self._change(capa_id, lambda case, at: case.add_action(
            **action, at=at, actor=by, cause=cause))
        return _action(case, action_id)

    def complete_action(self, capa_id: UUID, action_id: str, *, by: str, evidence: str,
                        as_manager: bool, cause: dict[str, Any]) -> dict[str, Any]:
        case, _ = self._change(capa_id, lambda case, at: case.complete_action(
            action_id, evidence=evidence, as_manager=as_manager, at=at, actor=by, cause=cause))
        return self._read(case)

    def verify_action(self, capa_id: UUID, action_id: str, *, verifier: str, effective: bool,
                      note: str, cause: dict[str, Any]) -> dict[str, Any]:
        case, _ = self._change(capa_id, lambda case, at: case.verify_action(
            action_id, effective=effective, note=note, at=at, actor=verifier, cause=cause))
        return self._read(case)

    def _change(self, capa_id: UUID,
                command: Callable[[CapaCase, datetime], Any]) -> tuple[CapaCase, Any]:
        def attempt() -> tuple[CapaCase, Any]:
            case = self._get(capa_id)
            result = command(case, self.clock.now())
            self.save(case)
            return case, result

        return self.retry_on_conflict(attempt)

    # -- queries ----------------------------------------------------------------------------
    def case(self, capa_id: UUID) -> dict[str, Any]:
        return self._read(self._get(capa_id))

    def incident_facts(self, incident_id: str) -> list[dict[str, Any]]:
        """What capa heard of the incident on the bus, in the order it happened."""
        facts = self.get_or_none(IncidentFacts.create_id(incident_id))
        return [_plain(f) for f in facts.facts] if facts is not None else []

    def action(self, capa_id: UUID, action_id: str) -> dict[str, Any]:
        return _action(self._get(capa_id), action_id)

    def history(self, capa_id: UUID) -> list[dict[str, Any]]:
        """Every stored event of the case: what happened, when, by whom and why."""
        return [{"version": e.originator_version, "event": type(e).__name__, "at": e.at,
                 "actor": e.actor, "correlation_id": (e.cause or {}).get("correlation_id"),
                 "data": _plain({k: v for k, v in e.__dict__.items() if k not in _EVENT_ENVELOPE})}
                for e in self.stored_events(capa_id)]

    def _get(self, capa_id: UUID) -> CapaCase:
        case = self.get_or_none(capa_id)
        if case is None:
            raise CapaNotFound(f"no CAPA case has id {capa_id}")
        return case

    def _read(self, case: CapaCase) -> dict[str, Any]:
        return {
            "id": case.id, "incident_id": case.incident_id, "ref": case.ref,
            "title": case.title, "severity": case.severity, "entity": case.entity,
            "resolved_by": case.resolved_by, "resolution": case.resolution,
            "status": case.status.value, "opened_at": case.opened_at, "closed_at": case.closed_at,
            "root_cause": _plain(case.root_cause) if case.root_cause else None,
            "actions": [_plain(a) for a in case.actions.values()],
            "closure_blockers": case.closure_blockers() if case.status == "open" else [],
            "history": self.history(case.id),
        }


def _action(case: CapaCase, action_id: str) -> dict[str, Any]:
    return {"capa_id": case.id, **_plain(case.action(action_id))}


def _plain(value: Any) -> Any:
    """Dataclasses, enums and containers → JSON-friendly data (dates stay dates)."""
    if dataclasses.is_dataclass(value):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
