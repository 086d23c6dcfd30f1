"""Facts other services report about incidents, mixed into IncidentsApplication: the
notifier's deliveries, failures, escalations and staffing (its holds are in holds.py, the
CAPA case's steps in capa_facts.py). Each fact is recorded once on its incident."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shared.causation import from_message
from shared.contracts import (
    CloudEvent, Contract, EscalationTriggered, IncidentStaffed, NotificationDelivered,
    NotificationFailed,
)
from shared.store import Tracking

from services.incidents.domain import Incident
from services.incidents.queries import uuid_or_none


def producer_of(envelope: CloudEvent) -> str:
    """`closedloop/notifier` → `notifier`: who told us, for the incident's story."""
    return envelope.source.rsplit("/", 1)[-1] or envelope.source


class FactRecording:
    """Needs the application's clock, get_or_none, read_ahead and save_tracked."""

    def handle_notification_delivered(self, envelope: CloudEvent, fact: NotificationDelivered,
                                      tracking: Tracking) -> None:
        self._record_fact(envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
                     i.record_notification("delivered", fact.model_dump(mode="json"), at,
                                           actor, cause))

    def handle_notification_failed(self, envelope: CloudEvent, fact: NotificationFailed,
                                   tracking: Tracking) -> None:
        self._record_fact(envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
                     i.record_notification("failed", fact.model_dump(mode="json"), at,
                                           actor, cause))

    def handle_escalation_triggered(self, envelope: CloudEvent, fact: EscalationTriggered,
                                    tracking: Tracking) -> None:
        self._record_fact(envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
                     i.record_escalation(fact.step, list(fact.channel_ids),
                                         fact.waited_seconds, at, actor, cause,
                                         channel_names=list(fact.channel_names),
                                         reason=fact.reason, people=list(fact.people),
                                         unresolved=list(fact.unresolved)))

    def handle_incident_staffed(self, envelope: CloudEvent, fact: IncidentStaffed,
                                tracking: Tracking) -> None:
        raci = {"responsible": fact.responsible, "accountable": fact.accountable,
                "consulted": fact.consulted, "informed": fact.informed}
        self._record_fact(envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
                          i.staff(raci, list(fact.unresolved), at, actor, cause,
                                  [dict(u) for u in fact.unit_path]))

    def read_ahead_incidents(self, contracts: list[Contract]) -> None:
        """A batch of facts about incidents (deliveries, escalations, CAPA steps) reads its
        incidents in one query: each fact is one more event on an incident read first."""
        self.read_ahead(uuid for c in contracts  # type: ignore[attr-defined]
                        if (uuid := uuid_or_none(getattr(c, "incident_id", ""))) is not None)

    def _record_fact(self, envelope: CloudEvent, incident_id: str, tracking: Tracking,
                record: Callable[[Incident, datetime, str, dict], None]) -> None:
        """Facts about incidents this service never opened are acknowledged and skipped."""
        uuid = uuid_or_none(incident_id)
        incident = (self.get_or_none(uuid)  # type: ignore[attr-defined]
                    if uuid is not None else None)
        if not isinstance(incident, Incident):
            self.save_tracked(tracking=tracking)  # type: ignore[attr-defined]
            return
        record(incident, self.clock.now(),  # type: ignore[attr-defined]
               producer_of(envelope), from_message(envelope))
        self.save_tracked(incident, tracking=tracking)  # type: ignore[attr-defined]
