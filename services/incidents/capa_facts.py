"""What the CAPA case reports about its incident, mixed into IncidentsApplication: opened,
root cause found, actions planned, done and verified, the fix watched (and why it failed),
closed. The incident's status follows. A returning incident whose analysis moved into an
older, reopened case (CapaRecurred) follows that case and closes with it."""
from __future__ import annotations

from typing import Any

from shared.contracts import (
    CapaActionAdded, CapaActionCompleted, CapaActionVerified, CapaClosed,
    CapaEffectivenessExtended, CapaEffectivenessFailed, CapaEffectivenessHeldOpen,
    CapaEffectivenessStarted, CapaOpened, CapaRecurred, CapaRootCauseRecorded, CloudEvent,
)
from shared.causation import from_message
from shared.store import Tracking

from services.incidents.domain import Incident, Status
from services.incidents.domain.recurrence import CaseFollowers
from services.incidents.facts import producer_of
from services.incidents.queries import uuid_or_none


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

    def handle_capa_effectiveness_held_open(self, envelope: CloudEvent,
                                            fact: CapaEffectivenessHeldOpen,
                                            tracking: Tracking) -> None:
        # Why the incident is not closed: its metric sent no samples while the fix was watched.
        self._record_capa_step(envelope, fact, f"effectiveness-held:{envelope.id}",
                               "effectiveness window unobserved", None, None, tracking)

    def handle_capa_effectiveness_extended(self, envelope: CloudEvent,
                                           fact: CapaEffectivenessExtended,
                                           tracking: Tracking) -> None:
        self._record_capa_step(envelope, fact, f"effectiveness-extended:{envelope.id}",
                               "effectiveness window lengthened", None, None, tracking)

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

    def handle_capa_recurred(self, envelope: CloudEvent, fact: CapaRecurred,
                             tracking: Tracking) -> None:
        """The new incident (`recurrence_incident_id`) is analysed in the old case: noted on
        its timeline, and listed among the case's followers so that its closure reaches it.
        The old incident is closed and stays so: the case, not it, went back to analysis."""
        incident = self._incident_or_none(fact.recurrence_incident_id)
        if incident is None:
            self.save_tracked(tracking=tracking)  # type: ignore[attr-defined]
            return
        at = self.clock.now()  # type: ignore[attr-defined]
        if not incident.follow_case(fact.capa_id, fact.ref, fact.reason, fact.after_seconds,
                                    at, producer_of(envelope), from_message(envelope)):
            self.save_tracked(tracking=tracking)  # type: ignore[attr-defined]
            return
        followers = self.get_or_none(  # type: ignore[attr-defined]
            CaseFollowers.create_id(fact.capa_id))
        if not isinstance(followers, CaseFollowers):
            followers = CaseFollowers(fact.capa_id)
        followers.add(fact.recurrence_incident_id)
        self.save_tracked(incident, followers, tracking=tracking)  # type: ignore[attr-defined]

    def handle_capa_closed(self, envelope: CloudEvent, fact: CapaClosed,
                           tracking: Tracking) -> None:
        at, actor, cause = (self.clock.now(),  # type: ignore[attr-defined]
                            producer_of(envelope), from_message(envelope))
        changed = []
        own = self._incident_or_none(fact.incident_id)
        if own is not None:
            own.close(fact.capa_id, fact.root_cause, fact.actions, at, actor, cause)
            changed.append(own)
        followers = self.get_or_none(  # type: ignore[attr-defined]
            CaseFollowers.create_id(fact.capa_id))
        for incident_id in (followers.incident_ids if isinstance(followers, CaseFollowers)
                            else []):
            follower = self._incident_or_none(incident_id)
            if follower is not None:
                follower.followed_case_closed(fact.capa_id, fact.root_cause, fact.actions, at,
                                              actor, cause)
                changed.append(follower)
        self.save_tracked(*changed, tracking=tracking)  # type: ignore[attr-defined]

    def _incident_or_none(self, incident_id: str) -> Incident | None:
        uuid = uuid_or_none(incident_id)
        found = self.get_or_none(uuid) if uuid is not None else None  # type: ignore[attr-defined]
        return found if isinstance(found, Incident) else None
