"""Alerts from the detector, mixed into IncidentsApplication: a firing joins its fingerprint's
open incident or opens a numbered new one; a clearing is noted on the incident it belongs to."""
from __future__ import annotations

from shared.bus.consumer import Rejected
from shared.causation import from_message
from shared.contracts import AlertRaised, AlertResolved, CloudEvent, Contract
from shared.store import Numbered, Tracking

from services.incidents.domain import (
    FingerprintLink, Incident, RefCounter, Severity, format_ref, ref_scope,
)
from services.incidents.facts import producer_of


class AlertIntake:
    """Needs the application's clock, get_or_none, repository, read_ahead, save_tracked and
    next_number; keeps `_legacy_last` (set by the application's __init__)."""

    def handle_alert_raised(self, envelope: CloudEvent, alert: AlertRaised,
                            tracking: Tracking) -> None:
        try:
            severity = Severity(alert.severity.upper())
        except ValueError:
            raise Rejected(f"alert {alert.alert_id}: severity {alert.severity!r} is not one of "
                           f"{', '.join(Severity)}") from None
        at, actor, cause = (self.clock.now(),  # type: ignore[attr-defined]
                            producer_of(envelope), from_message(envelope))
        details = alert.model_dump(mode="json", exclude={"fingerprint", "entity", "severity"})
        link = self.get_or_none(  # type: ignore[attr-defined]
            FingerprintLink.create_id(alert.fingerprint))
        current = self._current_incident(link) if link is not None else None
        if current is not None and alert.alert_id in current.alert_ids:
            # The same alert sent again: nothing new.
            self.save_tracked(tracking=tracking)  # type: ignore[attr-defined]
            return
        if current is not None and current.observation_refired(
                alert.alert_id, alert.name, alert.started_at, at, actor, cause):
            # A self-fix under observation did not hold: the incident is investigated again.
            current.record_alert(details, at, actor, cause)
            self.save_tracked(current, tracking=tracking)  # type: ignore[attr-defined]
            return
        if current is not None and current.accepts_alerts:
            current.record_alert(details, at, actor, cause)
            self.save_tracked(current, tracking=tracking)  # type: ignore[attr-defined]
            return
        # Gap-free per severity and month: the store records the number with the incident.
        scope = ref_scope(severity, at)
        number = self.next_number(  # type: ignore[attr-defined]
            scope, floor=self._numbered_before(scope))
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
        self.save_tracked(link, incident, tracking=tracking,  # type: ignore[attr-defined]
                          numbers=(Numbered(scope, number, incident.id),))

    def read_ahead_alerts(self, contracts: list[Contract]) -> None:
        """A batch of alerts reads its fingerprints' links in one query, and their current
        incidents in one more, instead of a round trip or two per alert."""
        links = self.read_ahead(  # type: ignore[attr-defined]
            FingerprintLink.create_id(c.fingerprint) for c in contracts
            if isinstance(c, (AlertRaised, AlertResolved)))
        self.read_ahead(  # type: ignore[attr-defined]
            link.current_incident_id for link in links.values()
            if isinstance(link, FingerprintLink) and link.current_incident_id)

    def _numbered_before(self, scope: str) -> int:
        """The last number a RefCounter of an earlier release issued in this scope (it never
        changes now, so it is read once per scope)."""
        last: dict[str, int] = self._legacy_last  # type: ignore[attr-defined]
        if scope not in last:
            severity, month = scope.split("-", 1)
            counter = self.get_or_none(  # type: ignore[attr-defined]
                RefCounter.create_id(severity, month))
            last[scope] = counter.last if isinstance(counter, RefCounter) else 0
        return last[scope]

    def handle_alert_resolved(self, envelope: CloudEvent, alert: AlertResolved,
                              tracking: Tracking) -> None:
        link = self.get_or_none(  # type: ignore[attr-defined]
            FingerprintLink.create_id(alert.fingerprint))
        incident = self._incident_with_alert(link, alert.alert_id) if link else None
        if incident is None:
            # Delivered before its AlertRaised (replicas, retries): try again shortly. If the
            # raise never comes, the dead-letter stream shows this reason.
            raise AlertNotRaisedYet(f"alert {alert.alert_id} of {alert.fingerprint} cleared "
                                    "before it was raised here")
        incident.record_alert_cleared(alert.alert_id, alert.value, alert.resolved_at,
                                      self.clock.now(),  # type: ignore[attr-defined]
                                      producer_of(envelope), from_message(envelope))
        self.save_tracked(incident, tracking=tracking)  # type: ignore[attr-defined]

    def _incident_with_alert(self, link: FingerprintLink, alert_id: str) -> Incident | None:
        """The incident this alert belongs to: usually the current one, else an earlier
        occurrence of the same fingerprint."""
        for occurrence in range(link.occurrences, 0, -1):
            incident = self.get_or_none(  # type: ignore[attr-defined]
                Incident.create_id(link.fingerprint, occurrence))
            if isinstance(incident, Incident) and alert_id in incident.alert_ids:
                return incident
        return None

    def _current_incident(self, link: FingerprintLink) -> Incident | None:
        if link.current_incident_id is None:
            return None
        return self.repository.get(link.current_incident_id)  # type: ignore[attr-defined]


class AlertNotRaisedYet(Exception):
    """Transient: the consumer retries with backoff, then dead-letters."""
