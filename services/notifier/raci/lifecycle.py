"""Lifecycle messages: when an incident is acknowledged, changes severity, takes a progress
update, is reopened, resolved or closed, its Responsible, Accountable and Informed, its
reporter and its followers are told, each person once and never the person who did it.
Raising an unacknowledged incident to P0/P1, and reopening one, start its escalation
ladder over (step 0 told with the same message); a severity change moves the respond and
resolve chases to the new times."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.notifier.domain import ChannelNotFound, EarlyStop, Escalation
from services.notifier.domain.common import Cause, key_id
from services.notifier.domain.ladder import merge
from services.notifier.holds.decision import routed
from services.notifier.holds.opening import Opening, OpeningStatus
from services.notifier.raci.followers import Followers
from services.notifier.raci.reach import Why, reach
from services.notifier.raci.rules import Raci
from services.notifier.raci.staffing import Staffing
from services.notifier.recipients import Recipient, resolve
from shared.causation import from_message
from shared.contracts import (
    CloudEvent, IncidentProgressPosted, IncidentReopened, IncidentSeverityChanged,
)
from shared.store import Tracking

log = logging.getLogger(__name__)

ACKNOWLEDGED, SEVERITY_CHANGED = "incident.acknowledged", "incident.severity_changed"
PROGRESS, REOPENED = "incident.progress", "incident.reopened"
RESOLVED, CLOSED = "incident.resolved", "incident.closed"
PAGED = ("P0", "P1")  # severities whose raise pages the new ladder's first step
_NOT_TOLD = (OpeningStatus.HELD, OpeningStatus.TRIAL)  # nobody hears of these incidents


class LifecycleMessages:
    """Mixed into NotifierApplication through RaciCommands (get_or_none, save_tracked,
    clock, reads, config_cache, org_chart, quiet_now, followers_of, _schedule,
    _claim_at_once, _start_escalation)."""

    # -- handlers ---------------------------------------------------------------------------
    def handle_incident_severity_changed(self, envelope: CloudEvent,
                                         contract: IncidentSeverityChanged,
                                         tracking: Tracking) -> None:
        raised = _rank(contract.severity) < _rank(contract.previous)
        pages = raised and contract.severity in PAGED and not contract.acknowledged
        moved = self._move_deadlines(contract.incident_id, {  # type: ignore[attr-defined]
            "respond": contract.respond_by, "resolve": contract.resolve_by}, envelope)
        moved.append(self._note_severity(contract.incident_id, contract.severity, envelope))
        # Re-staffed after the moves (its first chases are set where none moved); the message
        # below goes to the people as they were (the repository has the stored staffing).
        moved += self._restaff(contract, envelope)  # type: ignore[attr-defined]
        self._tell_and_rearm(envelope, contract.incident_id, SEVERITY_CHANGED, contract.at,
                             contract.by, contract.severity, pages, tracking, also=moved,
                             about={"by": contract.by, "previous": contract.previous,
                                    "severity": contract.severity, "reason": contract.reason})

    def handle_incident_reopened(self, envelope: CloudEvent, contract: IncidentReopened,
                                 tracking: Tracking) -> None:
        self._tell_and_rearm(envelope, contract.incident_id, REOPENED, contract.at,
                             contract.by, contract.severity, True, tracking,
                             also=self._chase_again(contract, envelope),  # type: ignore[attr-defined]
                             about={"by": contract.by, "reason": contract.reason,
                                    "was": contract.was})

    def handle_incident_progress_posted(self, envelope: CloudEvent,
                                        contract: IncidentProgressPosted,
                                        tracking: Tracking) -> None:
        told = self.tell_lifecycle(contract.incident_id, PROGRESS, contract.at, contract.author,
                                   envelope, about={"by": contract.author,
                                                    "number": contract.number,
                                                    "text": contract.text,
                                                    **_next_update(contract)})
        self.save_tracked(*told, tracking=tracking)  # type: ignore[attr-defined]

    # -- telling ------------------------------------------------------------------------------
    def tell_lifecycle(self, incident_id: str, reason: str, occurred_at: datetime,
                       actor: str | None, envelope: CloudEvent, severity: str | None = None,
                       paged: list[Recipient] = (), about: dict | None = None) -> list[Any]:
        """Schedule `reason` to the incident's audience (and `paged`, a ladder's step 0),
        each recipient once; `about` is what happened (who, and the update's text or the
        reason given), for the message to say. The message names its occasion (the envelope), so the same
        reason told again later (a second resolution after a reopening) is a new message
        while a redelivery schedules nothing."""
        incident = self._incident_known(incident_id)
        if incident is None:
            return []
        if severity is not None:
            incident = {**incident, "severity": severity}
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        routing, _ = self.config_cache.current()  # type: ignore[attr-defined]
        chart = self.org_chart()  # type: ignore[attr-defined]
        merged: dict[str, Recipient] = {}
        for recipient in paged:
            merged.setdefault(recipient.key, recipient)
        for handles, why in self.audience(incident_id):
            for recipient in reach(handles, why, chart, routing):
                merged.setdefault(recipient.key, recipient)
        recipients = [r for r in merged.values()
                      if actor is None or not r.person or r.person["handle"] != actor]
        existing = set(self.reads.latest_versions(  # type: ignore[attr-defined]
            r.delivery_id(incident_id, reason, envelope.id) for r in recipients))
        deliveries = self._schedule(  # type: ignore[attr-defined]
            incident, recipients, reason, occurred_at, at, "notifier", cause, existing,
            occasion=envelope.id, about=about)
        self._claim_at_once(deliveries, routing, at)  # type: ignore[attr-defined]
        return deliveries

    def audience(self, incident_id: str) -> list[tuple[list[str], Why]]:
        """Who should know, in order: R, A, I (as staffed, with later assignments), the
        reporter, the followers. Each person appears under the first reason only."""
        groups: list[tuple[list[str], Why]] = []
        staffing = self.get_or_none(Staffing.create_id(incident_id))  # type: ignore[attr-defined]
        if isinstance(staffing, Staffing):
            for letter in (Raci.RESPONSIBLE, Raci.ACCOUNTABLE, Raci.INFORMED):
                groups.append((staffing.people(letter), Why("raci", str(letter))))
        followers: Followers | None = self.followers_of(incident_id)  # type: ignore[attr-defined]
        if followers is not None:
            if followers.reporter:
                groups.append(([followers.reporter], Why("reporter", "requester")))
            groups.append((list(followers.people), Why("follower", "follows")))
        seen: set[str] = set()
        unique = []
        for handles, why in groups:
            fresh = [h for h in dict.fromkeys(handles) if h not in seen]
            seen.update(fresh)
            if fresh:
                unique.append((fresh, why))
        return unique

    def _incident_known(self, incident_id: str) -> dict[str, str] | None:
        """The incident as its opening told the notifier; None for one never opened here, or
        whose notifications are held (a silence, trial mode): nobody hears of it yet."""
        opening = self.get_or_none(Opening.create_id(incident_id))  # type: ignore[attr-defined]
        if isinstance(opening, Opening):
            if opening.status in _NOT_TOLD:
                log.info("incident %s: notifications held; lifecycle message not sent",
                         opening.ref)
                return None
            known = dict(opening.incident)
        else:
            staffing = self.get_or_none(Staffing.create_id(incident_id))  # type: ignore[attr-defined]
            if not isinstance(staffing, Staffing):
                return None
            known = dict(staffing.incident)
        note = self.get_or_none(CurrentSeverity.create_id(incident_id))  # type: ignore[attr-defined]
        return {**known, "severity": note.severity} if isinstance(note, CurrentSeverity) else known

    def _note_severity(self, incident_id: str, severity: str,
                       envelope: CloudEvent) -> "CurrentSeverity":
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        note = self.get_or_none(CurrentSeverity.create_id(incident_id))  # type: ignore[attr-defined]
        if not isinstance(note, CurrentSeverity):
            return CurrentSeverity(incident_id=incident_id, severity=severity, at=at,
                                   actor="notifier", cause=cause)
        note.change(severity, at, "notifier", cause)
        return note

    # -- the ladder again ----------------------------------------------------------------------
    def _tell_and_rearm(self, envelope: CloudEvent, incident_id: str, reason: str,
                        occurred_at: datetime, actor: str, severity: str, rearm: bool,
                        tracking: Tracking, also: list[Any] = (),
                        about: dict | None = None) -> None:
        paged, escalation = [], None
        if rearm and self._incident_known(incident_id) is not None:
            paged, escalation = self._ladder_again(incident_id, severity, envelope)
        told = self.tell_lifecycle(incident_id, reason, occurred_at, actor, envelope,
                                   severity=severity, paged=paged, about=about)
        self.save_tracked(*told, escalation, *also,  # type: ignore[attr-defined]
                          tracking=tracking)

    def _ladder_again(self, incident_id: str, severity: str,
                      envelope: CloudEvent) -> tuple[list[Recipient], Any]:
        """Step 0 of the ladder the routes choose for the incident's labels at `severity`,
        and its escalation climbing again from now (started when it had none). Nothing when
        no route chooses a policy."""
        opening = self.get_or_none(Opening.create_id(incident_id))  # type: ignore[attr-defined]
        if not isinstance(opening, Opening):
            return [], None
        at, cause = self.clock.now(), from_message(envelope)  # type: ignore[attr-defined]
        routing, _ = self.config_cache.current()  # type: ignore[attr-defined]
        labels = {**opening.labels, "severity": severity}
        policies, _ = routed(self.quiet_now(), labels,  # type: ignore[attr-defined]
                             routing.policies())
        policies = [p for p in policies if not p.digests]  # digest policies page nobody
        if not policies:
            log.info("incident %s (%s): no route chose a policy; no ladder", opening.ref,
                     severity)
            return [], None
        incident = {**opening.incident, "severity": severity}
        ladder = merge([p.ladder for p in policies])
        step0 = resolve(ladder.targets(0), incident, at, routing, self).recipients
        escalation = self.get_or_none(Escalation.create_id(incident_id))  # type: ignore[attr-defined]
        if isinstance(escalation, Escalation):  # (a redelivery conflicts on its tracking row)
            escalation.rearm(severity=severity, ladder=ladder,
                             policy_ids=[str(p.id) for p in policies],
                             channel_names=_names(ladder, routing), started_at=at, at=at,
                             actor="notifier", cause=cause)
            return step0, escalation
        if isinstance(escalation, EarlyStop):
            log.info("incident %s: acknowledged before its opening reached the notifier; its "
                     "ladder is not started again", opening.ref)
            return step0, None
        return step0, self._start_escalation(  # type: ignore[attr-defined]
            incident, at, policies, routing, at, "notifier", cause)


class CurrentSeverity(Aggregate):
    """An incident's severity since it changed: later lifecycle messages name it (the
    opening and the staffing keep the one it opened with)."""

    @staticmethod
    def create_id(incident_id: str) -> UUID:
        return key_id(f"severity:{incident_id}")

    @event("Noted")
    def __init__(self, incident_id: str, severity: str, at: datetime, actor: str,
                 cause: Cause) -> None:
        self.incident_id, self.severity = incident_id, severity

    def change(self, severity: str, at: datetime, actor: str, cause: Cause) -> None:
        self._changed(severity=severity, at=at, actor=actor, cause=cause)

    @event("Changed")
    def _changed(self, severity: str, at: datetime, actor: str, cause: Cause) -> None:
        self.severity = severity


def _next_update(contract: IncidentProgressPosted) -> dict[str, str]:
    """When the next update is due, for the message to say (the progress cadence)."""
    due = getattr(contract, "next_update_by", None)
    return {"next_update_by": due.isoformat()} if due is not None else {}


def _rank(severity: str) -> int:
    """P0 → 0 (most urgent); anything else sorts last."""
    return int(severity[1:]) if severity[:1] == "P" and severity[1:].isdigit() else 99


def _names(ladder: Any, routing: Any) -> dict[str, str]:
    names = {}
    for cid in ladder.channel_ids():
        try:
            names[cid] = routing.channel(cid).name
        except ChannelNotFound:  # said when its step fires
            continue
    return names
