"""The CAPA application: opens a case for every resolved incident and runs the API's
commands on it (get → call → save); queries return plain data."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Transcoding

from services.capa.domain import CapaCase, CapaNotFound
from services.capa.domain.effectiveness import DEFAULT_WINDOWS, fit_to_interval, parse_windows
from services.capa.domain.incident_facts import IncidentFacts
from services.capa.domain.recurrence import RecurrencePolicy, RuleSignature
from services.capa.domain.watch import AlertWatch
from services.capa.incident_facts import FACTS, happened_at
from services.capa.problem_recurrence import ProblemRecurrence
from services.capa.recurrence import Recurrence, history_of
from services.capa.silences import start_silent
from services.capa.units.placement import unit_path_of
from shared import causation
from shared.bus.consumer import Rejected
from shared.clock import Clock
from shared.contracts import (
    AlertRaised, CloudEvent, Contract, IncidentCapaRequested, IncidentDrillFlagged,
    IncidentResolved,
)
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
    # A rule's signature gains an event per incident of the rule: read from a recent snapshot,
    # not replayed from its first (30 µs an event: 1.3 s at 50,000). Only signatures: the
    # other aggregates are short and read ahead per batch, which snapshots would turn off.
    snapshotting_intervals = {RuleSignature: 50}

    def __init__(self, env: dict[str, str] | None, clock: Clock,
                 windows: dict[str, timedelta] | None = None,
                 recurrence: RecurrencePolicy | None = None) -> None:
        self.clock = clock
        self.recurrence = recurrence or RecurrencePolicy()
        # Effectiveness window by severity; an unknown severity gets the longest one.
        self.windows = windows or parse_windows(DEFAULT_WINDOWS)
        super().__init__(env)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # -- messages ---------------------------------------------------------------------------
    def handle_incident_fact(self, envelope: CloudEvent, contract: Contract,
                             tracking: Tracking) -> None:
        self.save_tracked(*self.facts_heard(envelope, contract), tracking=tracking)

    def facts_heard(self, envelope: CloudEvent, contract: Any) -> list[IncidentFacts]:
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
        """Opens the incident's case when its closing path requires one (older producers:
        always); a false positive, an optional or an observed incident closes without one."""
        if not contract.incident_id.strip():
            raise Rejected("IncidentResolved without an incident_id cannot open a CAPA case")
        facts = self.facts_heard(envelope, contract)
        if contract.closing != "required":
            self.save_tracked(*facts, tracking=tracking)
            return
        self._open_case(envelope, contract, contract.summary, facts, tracking)

    def handle_incident_capa_requested(self, envelope: CloudEvent,
                                       contract: IncidentCapaRequested,
                                       tracking: Tracking) -> None:
        """A CAPA was optional and someone asked for one: the case opens as for a resolution."""
        if not contract.incident_id.strip():
            raise Rejected("IncidentCapaRequested without an incident_id names no incident")
        self._open_case(envelope, contract, contract.resolution, [], tracking)

    def handle_incident_drill_flagged(self, envelope: CloudEvent, contract: IncidentDrillFlagged,
                                      tracking: Tracking) -> None:
        """The incident turned out to be a drill: its case, if it has one, leaves the KPIs.
        One flagged before its resolution arrives with the resolution's `drill`."""
        case = self.get_or_none(CapaCase.create_id(contract.incident_id))
        if case is None or not case.mark_drill(contract.reason, self.clock.now(), SYSTEM_ACTOR,
                                               causation.from_message(envelope)):
            self.save_tracked(tracking=tracking)
            return
        self.save_tracked(case, tracking=tracking)

    def _open_case(self, envelope: CloudEvent, contract: Any, resolution: str,
                   facts: list[IncidentFacts], tracking: Tracking) -> None:
        case_id = CapaCase.create_id(contract.incident_id)
        if self.get_or_none(case_id) is not None:  # redelivered, or resolved again
            self.save_tracked(*facts, tracking=tracking)
            return
        # A return that reopened an earlier case is analysed there (docs/adr/recurrence.md).
        carrier, previous = history_of(self, contract.fingerprint, contract.incident_id)
        if carrier is not None:
            self.save_tracked(*facts, tracking=tracking)
            return
        at, cause = self.clock.now(), causation.from_message(envelope)
        window, reason = fit_to_interval(
            self.windows.get(contract.severity) or max(self.windows.values()),
            contract.interval_seconds)
        case = CapaCase(incident_id=contract.incident_id, ref=contract.ref, title=contract.title,
                        severity=contract.severity, entity=contract.entity,
                        resolved_by=contract.by, resolution=resolution,
                        at=at, actor=SYSTEM_ACTOR, cause=cause,
                        fingerprint=contract.fingerprint or None,
                        window_seconds=window.total_seconds(), window_reason=reason,
                        drill=contract.drill)
        case.link_history(previous, at, SYSTEM_ACTOR, cause)
        if not contract.fingerprint:  # a manual incident: a person checks the fix instead
            self.save_tracked(case, *facts, tracking=tracking)
            return
        watch_id = AlertWatch.create_id(contract.fingerprint)
        watch = self.get_or_none(watch_id) or AlertWatch(
            fingerprint=contract.fingerprint, at=at, actor=SYSTEM_ACTOR, cause=cause)
        watch.watch(case.id, at, SYSTEM_ACTOR, cause)
        start_silent(case, watch, at, cause)
        self.save_tracked(case, watch, *facts, tracking=tracking)

    def handle_alert_raised(self, envelope: CloudEvent, contract: AlertRaised,
                            tracking: Tracking) -> None:
        """The alert fired again: each case watching it inside its window fails its check."""
        watch = self.get_or_none(AlertWatch.create_id(contract.fingerprint))
        at, cause = self.clock.now(), causation.from_message(envelope)
        failed = [case for case in (self.get_or_none(UUID(i)) for i in
                                    (watch.cases if watch else []))
                  if case is not None and case.alert_fired(
                      fingerprint=contract.fingerprint, alert_id=contract.alert_id,
                      alert=contract.name, entity=contract.entity,
                      fired_at=contract.started_at, at=at, actor=SYSTEM_ACTOR, cause=cause)]
        self.save_tracked(*failed, tracking=tracking)

    def read_ahead_alerts(self, contracts: list[Any]) -> None:
        """A batch of alerts (a storm) reads its fingerprints' watches in one query; most
        fingerprints have none, and a miss is then free too."""
        self.read_ahead((AlertWatch.create_id(c.fingerprint) for c in contracts
                         if isinstance(c, AlertRaised)), never_snapshotted=True)

    # -- the effectiveness window -------------------------------------------------------------
    def close_after_window(self, capa_id: UUID) -> None:
        """Called by the window watch once the window's end has passed (workers.py)."""
        self._change(capa_id, lambda case, at: case.close_after_window(
            at, SYSTEM_ACTOR, causation.from_timer("capa.effectiveness_window")))

    def record_effectiveness_check(self, capa_id: UUID, *, verifier: str, text: str,
                                   evidence: str, cause: dict[str, Any]) -> dict[str, Any]:
        case, _ = self._change(capa_id, lambda case, at: case.record_effectiveness_check(
            text=text, evidence=evidence, at=at, actor=verifier, cause=cause))
        return self._read(case)

    # -- commands ---------------------------------------------------------------------------
    def record_root_cause(self, capa_id: UUID, *, by: str, cause: dict[str, Any],
                          **analysis: Any) -> dict[str, Any]:
        case, _ = self._change(capa_id, lambda case, at: case.record_root_cause(
            **analysis, at=at, actor=by, cause=cause), then=lambda case, at: ProblemRecurrence(
                self, Recurrence(self, self.recurrence)).on_root_cause(case, at, cause))
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
                      note: str, cause: dict[str, Any], adverse_check: str = "") -> dict[str, Any]:
        case, _ = self._change(capa_id, lambda case, at: case.verify_action(
            action_id, effective=effective, note=note, at=at, actor=verifier, cause=cause,
            adverse_check=adverse_check))
        return self._read(case)

    def _change(self, capa_id: UUID, command: Callable[[Any, datetime], Any],
                kind: type = CapaCase,
                then: Callable[[Any, datetime], list[Any]] | None = None) -> tuple[Any, Any]:
        """Runs `command` on the case (or a `kind` of case) and saves it, with whatever
        `then` changed because of it, in one transaction."""
        def attempt() -> tuple[Any, Any]:
            case, now = self._get(capa_id, kind), self.clock.now()
            result = command(case, now)
            self.save(case, *(then(case, now) if then else ()))
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

    def _get(self, capa_id: UUID, kind: type = CapaCase) -> Any:
        case = self.get_or_none(capa_id)
        if not isinstance(case, kind):
            raise CapaNotFound(f"no {'CAPA case' if kind is CapaCase else 'systemic problem'} "
                               f"has id {capa_id}")
        return case

    def _read(self, case: CapaCase) -> dict[str, Any]:
        return {
            "id": case.id, "incident_id": case.incident_id, "ref": case.ref,
            "title": case.title, "severity": case.severity, "entity": case.entity,
            "resolved_by": case.resolved_by, "resolution": case.resolution,
            "status": case.status.value, "opened_at": case.opened_at, "closed_at": case.closed_at,
            "drill": case.drill, "unit_path": unit_path_of(self, case.incident_id),
            "root_cause": _plain(case.root_cause) if case.root_cause else None,
            "actions": [_plain(a) for a in case.actions.values()],
            "closure_blockers": case.closure_blockers(),
            "effectiveness": {
                "fingerprint": case.fingerprint,
                "window_seconds": case.window.total_seconds() if case.window else None,
                "window_reason": getattr(case, "window_reason", None),
                "started_at": case.window_started_at, "ends_at": case.window_ends_at,
                "failures": _plain(case.effectiveness_failures),
                "check": case.effectiveness_check,
                "silence": _plain(case.silence), "held_open": case.held_open,
                "unobserved_seconds": case.unobserved_seconds,
            },
            "recurrence": {"recurrences": _plain(list(case.recurrences)),
                           "previous_cases": list(case.previous_cases),
                           "problem_recurrences": _plain(list(case.problem_recurrences))},
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
