"""The incidents application: alerts in, incidents out; people acknowledge and resolve, the
notifier and the CAPA case add to each incident's story."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from shared.ack_links import AckClaims
from shared.bus.consumer import Rejected
from shared.causation import from_message, from_timer
from shared.clock import Clock
from shared.contracts import (
    AlertRaised, AlertResolved, CapaActionAdded, CapaActionCompleted, CapaActionVerified,
    CapaClosed, CapaOpened, CapaRootCauseRecorded, CloudEvent, Contract,
    EscalationTriggered, IncidentStaffed, NotificationDelivered, NotificationFailed,
)
from shared.store import Numbered, ServiceApplication, Tracking

from services.incidents.domain import (
    FingerprintLink, Incident, IncidentNotFound, RaciRole, RefCounter, RefIndex, Severity,
    Status, format_ref, parse_ref, ref_scope,
)
from services.incidents.holds import HoldFacts
from services.incidents.lifecycle import LifecycleCommands
from services.incidents.timeline import timeline_of

REF = re.compile(r"^P[0-3]-\d{4}-\d{2}-\d{3,}$", re.IGNORECASE)


def producer_of(envelope: CloudEvent) -> str:
    """`closedloop/notifier` → `notifier`: who told us, for the incident's story."""
    return envelope.source.rsplit("/", 1)[-1] or envelope.source


class IncidentsApplication(LifecycleCommands, HoldFacts, ServiceApplication):
    def __init__(self, env: dict[str, str] | None, clock: Clock) -> None:
        self.clock = clock
        self._legacy_last: dict[str, int] = {}  # ref scope → last number RefCounter issued
        super().__init__(env)

    # -- commands (API) ------------------------------------------------------------------
    def acknowledge(self, id_or_ref: str, by: str, note: str, cause: dict[str, Any]) -> dict:
        return self._change(id_or_ref, lambda i, at: i.acknowledge(by, note, at, by, cause))

    def resolve(self, id_or_ref: str, by: str, summary: str, cause: dict[str, Any],
                verdict: str = "confirmed") -> dict:
        return self._change(id_or_ref, lambda i, at: i.resolve(by, summary, at, by, cause,
                                                               verdict))

    def assign(self, id_or_ref: str, role: str, person: str, by: str,
               cause: dict[str, Any]) -> dict:
        return self._change(id_or_ref, lambda i, at: i.assign(RaciRole(role), person, at, by,
                                                              cause))

    def archive(self, id_or_ref: str, actor: str, cause: dict[str, Any]) -> dict:
        return self._change(id_or_ref, lambda i, at: i.archive(at, actor, cause))

    def read_page(self, link: AckClaims, cause: dict[str, Any]) -> dict[str, Any]:
        """The person paged opened their one-click link (verified by the route): the read is
        recorded, and acknowledges as them when the incident still wants it. A link used
        before is refused (LinkAlreadyUsed) and changes nothing."""
        def attempt() -> dict[str, Any]:
            incident = self._incident(link.incident_id)
            acknowledged = incident.read_page(link.link_id, link.person, link.delivery_id,
                                              self.clock.now(), cause)
            self.save(incident)
            return {"incident": state_of(incident), "acknowledged": acknowledged}

        return self.retry_on_conflict(attempt)

    def page_link(self, link: AckClaims) -> dict[str, Any]:
        """What a link's confirmation page shows: the incident, and when the link was used."""
        incident = self._incident(link.incident_id)
        return {"incident": state_of(incident), "used_at": incident.used_links.get(link.link_id)}

    def _change(self, id_or_ref: str, command: Callable[[Incident, datetime], None]) -> dict:
        def attempt() -> dict:
            incident = self._incident(id_or_ref)
            command(incident, self.clock.now())
            self.save(incident)
            return self.incident(str(incident.id))

        return self.retry_on_conflict(attempt)

    def record_sla_breaches(self, incident_id: UUID) -> list[str]:
        """Record every deadline this incident has missed by now (the SLA watch calls it)."""
        incident = self.get_or_none(incident_id)
        if not isinstance(incident, Incident):
            return []
        at, cause = self.clock.now(), from_timer("incidents.sla_watch")
        missed = [kind for kind in ("respond", "resolve")
                  if incident.record_sla_breach(kind, at, "sla watch", cause)]
        if missed:
            self.save(incident)
        return missed

    # -- message handlers: detector ---------------------------------------------------------
    def handle_alert_raised(self, envelope: CloudEvent, alert: AlertRaised,
                            tracking: Tracking) -> None:
        try:
            severity = Severity(alert.severity.upper())
        except ValueError:
            raise Rejected(f"alert {alert.alert_id}: severity {alert.severity!r} is not one of "
                           f"{', '.join(Severity)}") from None
        at, actor, cause = self.clock.now(), producer_of(envelope), from_message(envelope)
        details = alert.model_dump(mode="json", exclude={"fingerprint", "entity", "severity"})
        link = self.get_or_none(FingerprintLink.create_id(alert.fingerprint))
        current = self._current_incident(link) if link is not None else None
        if current is not None and alert.alert_id in current.alert_ids:
            self.save_tracked(tracking=tracking)  # the same alert sent again: nothing new
            return
        if current is not None and current.accepts_alerts:
            current.record_alert(details, at, actor, cause)
            self.save_tracked(current, tracking=tracking)
            return
        # Gap-free per severity and month: the store records the number with the incident.
        scope = ref_scope(severity, at)
        number = self.next_number(scope, floor=self._numbered_before(scope))
        ref = format_ref(severity, at, number)
        incident = Incident.open(
            fingerprint=alert.fingerprint, occurrence=link.occurrences + 1 if link else 1,
            ref=ref, severity=severity, title=f"{alert.name} on {alert.entity}",
            entity=alert.entity, alert=details, at=at, actor=actor, cause=cause)
        if link is None:
            link = FingerprintLink(fingerprint=alert.fingerprint, at=at, actor=actor,
                                   cause=cause, first_incident_id=incident.id)
        else:
            link.link(incident.id, at, actor, cause)
        # One transaction: a ref is never issued without its incident, nor an incident twice.
        self.save_tracked(link, incident, tracking=tracking,
                          numbers=(Numbered(scope, number, incident.id),))

    def read_ahead_alerts(self, contracts: list[Contract]) -> None:
        """A batch of alerts reads its fingerprints' links in one query, and their current
        incidents in one more, instead of a round trip or two per alert."""
        links = self.read_ahead(FingerprintLink.create_id(c.fingerprint) for c in contracts
                                if isinstance(c, (AlertRaised, AlertResolved)))
        self.read_ahead(link.current_incident_id for link in links.values()
                        if isinstance(link, FingerprintLink) and link.current_incident_id)

    def read_ahead_incidents(self, contracts: list[Contract]) -> None:
        """A batch of facts about incidents (deliveries, escalations, CAPA steps) reads its
        incidents in one query: each fact is one more event on an incident read first."""
        self.read_ahead(uuid for c in contracts
                        if (uuid := _uuid(getattr(c, "incident_id", ""))) is not None)

    def _numbered_before(self, scope: str) -> int:
        """The last number a RefCounter of an earlier release issued in this scope (it never
        changes now, so it is read once per scope)."""
        if scope not in self._legacy_last:
            severity, month = scope.split("-", 1)
            counter = self.get_or_none(RefCounter.create_id(severity, month))
            self._legacy_last[scope] = counter.last if isinstance(counter, RefCounter) else 0
        return self._legacy_last[scope]

    def handle_alert_resolved(self, envelope: CloudEvent, alert: AlertResolved,
                              tracking: Tracking) -> None:
        link = self.get_or_none(FingerprintLink.create_id(alert.fingerprint))
        incident = self._incident_with_alert(link, alert.alert_id) if link else None
        if incident is None:
            # Delivered before its AlertRaised (replicas, retries): try again shortly. If the
            # raise never comes, the dead-letter stream shows this reason.
            raise AlertNotRaisedYet(f"alert {alert.alert_id} of {alert.fingerprint} cleared "
                                    "before it was raised here")
        incident.record_alert_cleared(alert.alert_id, alert.value, alert.resolved_at,
                                      self.clock.now(), producer_of(envelope),
                                      from_message(envelope))
        self.save_tracked(incident, tracking=tracking)

    # -- message handlers: notifier ----------------------------------------------------------
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
                          i.staff(raci, list(fact.unresolved), at, actor, cause))

    # -- message handlers: CAPA -------------------------------------------------------------
    def handle_capa_opened(self, envelope: CloudEvent, fact: CapaOpened,
                           tracking: Tracking) -> None:
        self._record_fact(envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
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

    def _record_capa_step(self, envelope: CloudEvent, fact: Any, key: str, step: str,
                          person: str | None, status: Status | None, tracking: Tracking) -> None:
        detail = fact.model_dump(mode="json", exclude={"incident_id", "at"})
        self._record_fact(envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
                          i.record_capa_step(key, step, detail, status, at, person or actor,
                                             cause))

    def handle_capa_action_verified(self, envelope: CloudEvent, fact: CapaActionVerified,
                                    tracking: Tracking) -> None:
        # The verifier is the person who did this, not the CAPA service.
        self._record_fact(envelope, fact.incident_id, tracking, lambda i, at, _, cause:
                     i.record_action_verified(fact.capa_id, fact.action_id, fact.kind,
                                              fact.owner, fact.verifier, at, fact.verifier,
                                              cause))

    def handle_capa_closed(self, envelope: CloudEvent, fact: CapaClosed,
                           tracking: Tracking) -> None:
        self._record_fact(envelope, fact.incident_id, tracking, lambda i, at, actor, cause:
                     i.close(fact.capa_id, fact.root_cause, fact.actions, at, actor, cause))

    def _record_fact(self, envelope: CloudEvent, incident_id: str, tracking: Tracking,
                record: Callable[[Incident, datetime, str, dict], None]) -> None:
        """Facts about incidents this service never opened are acknowledged and skipped."""
        uuid = _uuid(incident_id)
        incident = self.get_or_none(uuid) if uuid is not None else None
        if not isinstance(incident, Incident):
            self.save_tracked(tracking=tracking)
            return
        record(incident, self.clock.now(), producer_of(envelope), from_message(envelope))
        self.save_tracked(incident, tracking=tracking)

    # -- queries ---------------------------------------------------------------------------
    def incident(self, id_or_ref: str) -> dict[str, Any]:
        incident = self._incident(id_or_ref)
        return {**state_of(incident), "timeline": self.timeline(str(incident.id))}

    def timeline(self, id_or_ref: str) -> list[dict[str, Any]]:
        events = self.stored_events(self._id_of(id_or_ref))
        if not events or not isinstance(events[0], Incident.Opened):
            raise IncidentNotFound(f"no incident has the id or ref {id_or_ref!r}")
        return timeline_of(events)

    def _id_of(self, id_or_ref: str) -> UUID:
        """The id an incident would have, from its uuid or its human ref (P0-2026-11-001)."""
        text = id_or_ref.strip()
        if REF.match(text):
            if (numbered := parse_ref(text)) and (owner := self.number_owner(*numbered)):
                return owner
            # Issued by an earlier release, which indexed its refs in RefIndex aggregates.
            index = self.get_or_none(RefIndex.create_id(text.upper()))
            if isinstance(index, RefIndex):
                return index.incident_id
        elif (incident_id := _uuid(text)) is not None:
            return incident_id
        raise IncidentNotFound(f"no incident has the id or ref {id_or_ref!r}")

    def _incident(self, id_or_ref: str) -> Incident:
        incident = self.get_or_none(self._id_of(id_or_ref))
        if not isinstance(incident, Incident):
            raise IncidentNotFound(f"no incident has the id or ref {id_or_ref!r}")
        return incident

    def _incident_with_alert(self, link: FingerprintLink, alert_id: str) -> Incident | None:
        """The incident this alert belongs to: usually the current one, else an earlier
        occurrence of the same fingerprint."""
        for occurrence in range(link.occurrences, 0, -1):
            incident = self.get_or_none(Incident.create_id(link.fingerprint, occurrence))
            if isinstance(incident, Incident) and alert_id in incident.alert_ids:
                return incident
        return None

    def _current_incident(self, link: FingerprintLink) -> Incident | None:
        if link.current_incident_id is None:
            return None
        return self.repository.get(link.current_incident_id)


def state_of(incident: Incident) -> dict[str, Any]:
    return {
        "id": str(incident.id), "ref": incident.ref, "status": str(incident.status),
        "status_label": incident.status.label, "severity": str(incident.severity),
        "title": incident.title, "entity": incident.entity, "fingerprint": incident.fingerprint,
        "occurrence": incident.occurrence, "alert_ids": list(incident.alert_ids),
        "cleared_alert_ids": list(incident.cleared_alert_ids),
        "opened_at": incident.opened_at, "respond_by": incident.respond_by,
        "resolve_by": incident.resolve_by, "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": incident.acknowledged_by, "resolved_at": incident.resolved_at,
        "resolved_by": incident.resolved_by, "resolution": incident.resolution,
        "capa_id": incident.capa_id, "root_cause": incident.root_cause,
        "verified_action_ids": list(incident.verified_action_ids),
        "sla_breaches": list(incident.sla_breaches),
        "raci": {str(role): list(people) for role, people in incident.raci.items()},
        "closed_at": incident.closed_at, "archived_at": incident.archived_at,
        "reporter": incident.reporter, "followers": list(incident.followers),
        "progress_updates": incident.progress_posted, "reopened": incident.reopened_times,
        "version": incident.version,
    }


def _uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


class AlertNotRaisedYet(Exception):
    """Transient: the consumer retries with backoff, then dead-letters."""
