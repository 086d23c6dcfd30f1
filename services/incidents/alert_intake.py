"""Alerts from the detector, mixed into IncidentsApplication: a firing joins its fingerprint's
open incident, else triage.py places it (its group's incident, the storm's, or a numbered new
one); a clearing is noted on the incident it belongs to."""
from __future__ import annotations

from uuid import UUID

from shared.bus.consumer import Rejected
from shared.causation import from_message
from shared.contracts import (
    AlertAcknowledged, AlertRaised, AlertResolved, CloudEvent, Contract,
)
from shared.store import Tracking

from services.incidents.domain import (
    FingerprintLink, GroupLink, Incident, RefCounter, Severity, more_urgent,
)
from services.incidents.facts import producer_of
from services.incidents.triage import listing


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
            # The same alert sent again: nothing new, unless it comes worse (a worse band of
            # its rule holds while it fires): the incident goes up with it.
            if current.accepts_alerts and more_urgent(severity, current.severity):
                current.grade_by_alert(alert.fingerprint, severity, at, actor, cause,
                                       self.sla_clocks(  # type: ignore[attr-defined]
                                           severity, current.sla_type, at))
                self.recadence(current, at, cause)  # type: ignore[attr-defined]
                self.save_tracked(current, tracking=tracking)  # type: ignore[attr-defined]
            else:
                self.save_tracked(tracking=tracking)  # type: ignore[attr-defined]
            return
        if current is not None and current.observation_refired(
                alert.alert_id, alert.name, alert.started_at, at, actor, cause):
            # A self-fix under observation did not hold: the incident is investigated again.
            current.record_alert(details, at, actor, cause)
            self.expect_update(current, at, "reopened", at, cause)  # type: ignore[attr-defined]
            self.save_tracked(current, tracking=tracking)  # type: ignore[attr-defined]
            return
        if current is not None and current.accepts_alerts:
            current.record_alert(listing(alert, details, severity), at, actor, cause)
            # The same fingerprint firing again, worse: the incident goes up with it.
            if current.grade_by_alert(alert.fingerprint, severity, at, actor, cause,
                    self.sla_clocks(severity, current.sla_type, at)):  # type: ignore[attr-defined]
                self.recadence(current, at, cause)  # type: ignore[attr-defined]
            self.save_tracked(current, tracking=tracking)  # type: ignore[attr-defined]
            return
        # Its group's incident, the storm's, or a new one (triage.py).
        self.place_alert(alert, severity, details, link, at, actor,  # type: ignore[attr-defined]
                         cause, tracking)

    def read_ahead_alerts(self, contracts: list[Contract]) -> None:
        """A batch of alerts reads its fingerprints' links and groups in one query, and their
        current incidents in one more, instead of round trips per alert."""
        links = self.read_ahead([  # type: ignore[attr-defined]
            *(FingerprintLink.create_id(c.fingerprint) for c in contracts
              if isinstance(c, (AlertRaised, AlertResolved, AlertAcknowledged))),
            *self._group_ids(contracts)])
        self.read_ahead([  # type: ignore[attr-defined]
            *(link.current_incident_id for link in links.values()
              if isinstance(link, FingerprintLink) and link.current_incident_id),
            *(link.incident_id for link in links.values() if isinstance(link, GroupLink))])

    def _group_ids(self, contracts: list[Contract]) -> list[UUID]:
        grouping = self.grouping  # type: ignore[attr-defined]
        if not grouping.on:
            return []
        keys = (grouping.key_of(c.labels, c.entity, c.name) for c in contracts
                if isinstance(c, AlertRaised))
        return [GroupLink.create_id(key) for key in keys if key]

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

    def handle_alert_acknowledged(self, envelope: CloudEvent, alert: AlertAcknowledged,
                                  tracking: Tracking) -> None:
        """The sender says someone is on the alert (PagerDuty `acknowledge`): its open incident
        is acknowledged as `alert.by`. One acknowledged already, resolved, or none at all (the
        alert opened none, or a redelivery) records nothing: the sender cannot be told."""
        link = self.get_or_none(  # type: ignore[attr-defined]
            FingerprintLink.create_id(alert.fingerprint))
        incident = self._incident_with_alert(link, alert.alert_id) if link else None
        if incident is not None and incident.accepts_alerts and incident.can_be_acknowledged:
            incident.acknowledge(alert.by, f"acknowledged in {alert.source} "
                                 f"(alert {alert.alert_id})",
                                 self.clock.now(),  # type: ignore[attr-defined]
                                 alert.by, from_message(envelope), by_person=False)
            self.save_tracked(incident, tracking=tracking)  # type: ignore[attr-defined]
        else:
            self.save_tracked(tracking=tracking)  # type: ignore[attr-defined]

    def _incident_with_alert(self, link: FingerprintLink, alert_id: str) -> Incident | None:
        """The incident this alert belongs to: usually the current one, else an earlier one
        (its group's or a storm's, or an earlier occurrence of the same fingerprint)."""
        # Links stored before they listed their incidents name occurrences only.
        ids = link.incident_ids or [Incident.create_id(link.fingerprint, occurrence)
                                    for occurrence in range(1, link.occurrences + 1)]
        for incident_id in reversed(ids):
            incident = self.get_or_none(incident_id)  # type: ignore[attr-defined]
            if isinstance(incident, Incident) and alert_id in incident.alert_ids:
                return incident
        return None

    def _current_incident(self, link: FingerprintLink) -> Incident | None:
        if link.current_incident_id is None:
            return None
        return self.repository.get(link.current_incident_id)  # type: ignore[attr-defined]


class AlertNotRaisedYet(Exception):
    """Transient: the consumer retries with backoff, then dead-letters."""
