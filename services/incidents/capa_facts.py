"""What the CAPA case reports about its incident, mixed into IncidentsApplication: opened,
root cause found, actions planned, done and verified, the fix watched (and why it failed),
closed. The incident's status follows."""
from __future__ import annotations

from typing import Any

from shared.contracts import (
    CapaActionAdded, CapaActionCompleted, CapaActionVerified, CapaClosed,
    CapaEffectivenessFailed, CapaEffectivenessStarted, CapaOpened, CapaRootCauseRecorded,
    CloudEvent,
)
from shared.store import Tracking

from services.incidents.domain import Status


class CapaFacts:
    """Needs the application's _record_fact (facts.py)."""

    def handle_capa_opened(self, envelope: CloudEvent, fact: CapaOpened,
                           tracking: Tracking) -> None:
        self._record_fact(  # type: ignore[attr-defined]
            envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
            i.record_capa_opened(fact.capa_id, fact.title, at, actor, cause))

    def handle_capa_root_cause_recorded(self, envelope: CloudEvent, fact: CapaRootCauseRecorded,
                                        tracking: Tracking) -> None:
        self._record_capa_step(envelope, fact, f"root-cause:{fact.revision}", "root cause found",
                               fact.by, Status.PLANNING, tracking)

    def handle_capa_action_added(self, envelope: CloudEvent, fact: CapaActionAdded,
                                 tracking: Tracking) -> None:
        self._record_capa_step(envelope, fact, f"added:{fact.action_id}", "action planned",
                               fact.by, Status.EXECUTING, tracking)

    def handle_capa_action_completed(self, envelope: CloudEvent, fact: CapaActionCompleted,
                                     tracking: Tracking) -> None:
        # Verification starts once no action is left to do.
        self._record_capa_step(envelope, fact, f"completed:{fact.action_id}:{envelope.id}",
                               "action completed", fact.completed_by,
                               Status.VERIFYING if fact.open_actions == 0 else None, tracking)

    def handle_capa_effectiveness_started(self, envelope: CloudEvent,
                                          fact: CapaEffectivenessStarted,
                                          tracking: Tracking) -> None:
        self._record_capa_step(envelope, fact, f"effectiveness:{envelope.id}",
                               "effectiveness window", None, None, tracking)

    def handle_capa_effectiveness_failed(self, envelope: CloudEvent,
                                         fact: CapaEffectivenessFailed,
                                         tracking: Tracking) -> None:
        # Why the incident is not closed: its alert fired again while the fix was watched.
        self._record_capa_step(envelope, fact, f"effectiveness-failed:{envelope.id}",
                               "effectiveness check failed", None, None, tracking)

    def _record_capa_step(self, envelope: CloudEvent, fact: Any, key: str, step: str,
                          person: str | None, status: Status | None, tracking: Tracking) -> None:
        detail = fact.model_dump(mode="json", exclude={"incident_id", "at"})
        self._record_fact(  # type: ignore[attr-defined]
            envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
            i.record_capa_step(key, step, detail, status, at, person or actor, cause))

    def handle_capa_action_verified(self, envelope: CloudEvent, fact: CapaActionVerified,
                                    tracking: Tracking) -> None:
        # The verifier is the person who did this, not the CAPA service.
        self._record_fact(  # type: ignore[attr-defined]
            envelope, fact.incident_id, tracking, lambda i, at, _, cause:
            i.record_action_verified(fact.capa_id, fact.action_id, fact.kind, fact.owner,
                                     fact.verifier, at, fact.verifier, cause))

    def handle_capa_closed(self, envelope: CloudEvent, fact: CapaClosed,
                           tracking: Tracking) -> None:
        self._record_fact(  # type: ignore[attr-defined]
            envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
            i.close(fact.capa_id, fact.root_cause, fact.actions, at, actor, cause))
