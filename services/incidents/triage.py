"""Where an alert goes when its fingerprint has no open incident, mixed into
IncidentsApplication (docs/adr/grouping-and-storms.md): into the open incident of its group
(`group_by` labels within the window), under the storm incident while new incidents come too
fast, or else into a numbered new incident. Either way the incident is as severe as its
worst alert."""
from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from shared.causation import from_timer
from shared.contracts import AlertRaised
from shared.store import Numbered, Tracking

from services.incidents.domain.sla import incident_type
from services.incidents.domain import (
    STORM_PREFIX, FingerprintLink, GroupLink, Incident, Severity, StormControl, format_ref,
    ref_scope,
)
from services.incidents.domain.core import FINISHED

STORM_ACTOR = "storm control"


class AlertTriage:
    """Needs the application's clock, get_or_none, repository, events, _batch, save_tracked,
    save, next_number, _numbered_before and retry_on_conflict; keeps `grouping`, `storm`,
    `_storm_rate`, `_storm_id` and `_storm_cache` (set by the application's __init__)."""

    def place_alert(self, alert: AlertRaised, severity: Severity, details: dict[str, Any],
                    link: FingerprintLink | None, at: datetime, actor: str,
                    cause: dict[str, Any], tracking: Tracking) -> None:
        listed = listing(alert, details, severity)
        # Trial alerts (nobody told) neither join real incidents nor count towards a storm.
        key = None if alert.trial or not self.grouping.on else self.grouping.key_of(  # type: ignore[attr-defined]
            alert.labels, alert.entity, alert.name)
        group = self.get_or_none(GroupLink.create_id(key)) if key else None  # type: ignore[attr-defined]
        joined = self._group_incident(group, at) if isinstance(group, GroupLink) else None
        if joined is not None:
            joined.record_alert(listed, at, actor, cause)
            if joined.grade_by_alert(alert.fingerprint, severity, at, actor, cause,
                    self.sla_clocks(severity, joined.sla_type, at)):  # type: ignore[attr-defined]
                self.recadence(joined, at, cause)  # type: ignore[attr-defined]
            self.save_tracked(joined, _linked(link, alert.fingerprint, joined, at, actor, cause),  # type: ignore[attr-defined]
                              tracking=tracking)
            return
        if self.storm.on and not alert.trial:  # type: ignore[attr-defined]
            gathered = self._gather(listed, severity, alert.fingerprint, at, actor, cause)
            if gathered is not None:
                storm, numbers = gathered
                self.save_tracked(*storm, _linked(link, alert.fingerprint, storm[0], at, actor,  # type: ignore[attr-defined]
                                                  cause), tracking=tracking, numbers=numbers)
                return
        incident, number = self._open_incident(
            fingerprint=alert.fingerprint, occurrence=link.occurrences + 1 if link else 1,
            severity=severity, title=f"{alert.name} on {alert.entity}", entity=alert.entity,
            alert=details, at=at, actor=actor, cause=cause)
        changed: list[Any] = [_linked(link, alert.fingerprint, incident, at, actor, cause),
                              incident]
        if key is not None:
            if isinstance(group, GroupLink):
                group.link(incident.id, at, at, actor, cause)
            else:
                group = GroupLink(key=key, incident_id=incident.id, opened_at=at, at=at,
                                  actor=actor, cause=cause)
            changed.append(group)
        # One transaction: a ref is never issued without its incident, nor an incident twice.
        self.save_tracked(*changed, tracking=tracking, numbers=(number,))  # type: ignore[attr-defined]

    def _open_incident(self, *, fingerprint: str, occurrence: int, severity: Severity,
                       title: str, entity: str, alert: dict[str, Any], at: datetime,
                       actor: str, cause: dict[str, Any]) -> tuple[Incident, Numbered]:
        # Gap-free per severity and month: the store records the number with the incident.
        scope = ref_scope(severity, at)
        number = self.next_number(scope, floor=self._numbered_before(scope))  # type: ignore[attr-defined]
        incident = Incident.open(
            fingerprint=fingerprint, occurrence=occurrence,
            ref=format_ref(severity, at, number), severity=severity, title=title,
            entity=entity, alert=alert, at=at, actor=actor, cause=cause,
            clocks=self.sla_clocks(severity, incident_type(alert), at))  # type: ignore[attr-defined]
        self.expect_update(incident, at, "opened", at, cause)  # type: ignore[attr-defined]
        return incident, Numbered(scope, number, incident.id)

    def _group_incident(self, group: GroupLink, at: datetime) -> Incident | None:
        incident_id = group.joining(at, self.grouping.window)  # type: ignore[attr-defined]
        incident = self.get_or_none(incident_id) if incident_id else None  # type: ignore[attr-defined]
        return incident if isinstance(incident, Incident) and incident.accepts_alerts else None

    # -- storms ----------------------------------------------------------------------------
    def _gather(self, listed: dict[str, Any], severity: Severity, fingerprint: str,
                at: datetime, actor: str, cause: dict[str, Any],
                ) -> tuple[list[Any], tuple[Numbered, ...]] | None:
        """The storm incident (and what starting it changed) this alert is gathered under,
        or None while new incidents do not come faster than the storm rule allows."""
        opening = self._storm_rate.note(at) > self.storm.threshold  # type: ignore[attr-defined]
        storm = self._storm_in_progress(self._storm_id)  # type: ignore[attr-defined]
        changed: list[Any] = []
        numbers: tuple[Numbered, ...] = ()
        if storm is None and opening:
            control = self.get_or_none(StormControl.ID) or StormControl()  # type: ignore[attr-defined]
            # Another replica (or this process before a restart) may have started it.
            storm = self._storm_in_progress(control.current)
            if storm is None:
                storm, number = self._open_storm(severity, at, cause)
                control.start(storm.id, at, STORM_ACTOR, cause)
                changed, numbers = [control], (number,)
        if storm is None:
            self._storm_id = None
            return None
        self._storm_id = storm.id
        storm.gather_alert(listed, at, actor, cause)
        if storm.grade_by_alert(fingerprint, severity, at, actor, cause,
                self.sla_clocks(severity, storm.sla_type, at)):  # type: ignore[attr-defined]
            self.recadence(storm, at, cause)  # type: ignore[attr-defined]
        return [storm, *changed], numbers

    def _storm_in_progress(self, incident_id: Any) -> Incident | None:
        storm = self._storm_incident(incident_id) if incident_id else None
        if isinstance(storm, Incident) and storm.storming and storm.accepts_alerts:
            return storm
        return None

    def _storm_incident(self, incident_id: UUID) -> Incident | None:
        """The storm incident to change: as this batch left it, else this process's copy
        brought up to date with the events stored since. Replaying a storm of thousands of
        alerts for every batch would cost more than the alerts it gathers."""
        batch = self._batch()  # type: ignore[attr-defined]
        if batch is not None and incident_id in batch.aggregates:
            return self.repository.get(incident_id)  # type: ignore[attr-defined]
        cached = self._storm_cache  # type: ignore[attr-defined]
        if cached is None or cached.id != incident_id:
            cached = self.get_or_none(incident_id)  # type: ignore[attr-defined]
        else:
            for stored in self.events.get(incident_id, gt=cached.version):  # type: ignore[attr-defined]
                cached = stored.mutate(cached)
        if not isinstance(cached, Incident):
            return None
        self._storm_cache = cached
        return copy.deepcopy(cached)  # a failed batch must leave the cache as stored

    def _open_storm(self, severity: Severity, at: datetime,
                    cause: dict[str, Any]) -> tuple[Incident, Numbered]:
        key = uuid4().hex
        rule = self.storm.describe()  # type: ignore[attr-defined]
        alert = {"alert_id": f"storm-{key}", "name": "alert storm", "source": "storm control",
                 "labels": {"alertname": "alert storm", "storm": "true"},
                 "summary": f"{rule}: further alerts are gathered here, listed and counted",
                 "started_at": at.isoformat()}
        storm, number = self._open_incident(
            fingerprint=f"{STORM_PREFIX}{key}", occurrence=1, severity=severity,
            title=f"Alert storm: {rule}", entity="alert storm", alert=alert, at=at,
            actor=STORM_ACTOR, cause=cause)
        storm.start_storm(self.storm, at, STORM_ACTOR, cause)  # type: ignore[attr-defined]
        return storm, number

    def end_calm_storm(self) -> str | None:
        """The storm watch: end the storm once its rate has fallen (or its incident was
        resolved by hand) and tell the incident's people the summary. Returns it."""
        def attempt() -> str | None:
            control = self.get_or_none(StormControl.ID)  # type: ignore[attr-defined]
            if not isinstance(control, StormControl) or control.current is None:
                return None
            at, cause = self.clock.now(), from_timer("incidents.storm_watch")  # type: ignore[attr-defined]
            storm = self.get_or_none(control.current)  # type: ignore[attr-defined]
            changed: list[Any] = [control]
            summary = None
            if isinstance(storm, Incident) and storm.storming:
                if storm.accepts_alerts and not storm.calm(at):
                    return None
                summary = storm.end_storm(at, STORM_ACTOR, cause)
                if storm.status not in FINISHED:
                    storm.post_progress(summary, STORM_ACTOR, at, cause)
                changed.append(storm)
            control.end(control.current, at, STORM_ACTOR, cause)
            self.save(*changed)  # type: ignore[attr-defined]
            return summary

        return self.retry_on_conflict(attempt)  # type: ignore[attr-defined]


def listing(alert: AlertRaised, details: dict[str, Any], severity: Severity) -> dict[str, Any]:
    """An alert as recorded on an incident it joins: with its own fingerprint, entity and
    severity, since a group's or a storm's alerts differ in all three."""
    return {**details, "fingerprint": alert.fingerprint, "entity": alert.entity,
            "severity": str(severity)}


def _linked(link: FingerprintLink | None, fingerprint: str, incident: Incident, at: datetime,
            actor: str, cause: dict[str, Any]) -> FingerprintLink:
    """The fingerprint's link, now leading to `incident` (a re-send finds it there, and so
    does the alert's clearing)."""
    if link is None:
        return FingerprintLink(fingerprint=fingerprint, at=at, actor=actor, cause=cause,
                               first_incident_id=incident.id)
    link.link(incident.id, at, actor, cause)
    return link
