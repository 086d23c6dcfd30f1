"""The incident: P0–P3 with SLA clocks, carried from 新建 to 已闭环 by people (acknowledge,
resolve) and by the CAPA case (verify, close)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from services.incidents.domain.errors import (
    AlreadyAcknowledged, AlreadyResolved, IncidentFinished, LinkAlreadyUsed, NotClosed,
)

from services.incidents.domain.ids import NAMESPACE
from services.incidents.domain.lifecycle import IncidentLifecycle
from services.incidents.domain.vocabulary import (  # noqa: F401 (re-exported)
    SLA, RaciRole, Severity, Sla, Status,
)


_FINISHED = (Status.CLOSED, Status.ARCHIVED)
# The notifier's reminder after an acknowledgement was left unresolved too long.
RETRIGGER = "escalation.retrigger"


class Incident(IncidentLifecycle):
    """One incident per fingerprint occurrence; the id is derived from both so a redelivered
    alert reaches the same incident. Severity changes, reopening, progress and followers are
    in lifecycle.py."""

    @staticmethod
    def create_id(fingerprint: str, occurrence: int) -> UUID:
        return uuid5(NAMESPACE, f"{fingerprint}:{occurrence}")

    @classmethod
    def open(cls, *, fingerprint: str, occurrence: int, ref: str, severity: Severity, title: str,
             entity: str, alert: dict[str, Any], at: datetime, actor: str,
             cause: dict[str, Any]) -> "Incident":
        sla = SLA[severity]
        return cls(fingerprint=fingerprint, occurrence=occurrence, ref=ref,
                   severity=str(severity), title=title, entity=entity, alert=alert,
                   respond_by=at + sla.respond, resolve_by=at + sla.resolve,
                   at=at, actor=actor, cause=cause)

    @event("Opened")
    def __init__(self, fingerprint: str, occurrence: int, ref: str, severity: str, title: str,
                 entity: str, alert: dict[str, Any], respond_by: datetime, resolve_by: datetime,
                 at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.fingerprint, self.occurrence, self.ref = fingerprint, occurrence, ref
        self.severity = Severity(severity)
        self.title, self.entity = title, entity
        self.status = Status.NEW
        self.alert_ids: list[str] = [alert["alert_id"]]
        self.cleared_alert_ids: list[str] = []
        self.opened_at, self.respond_by, self.resolve_by = at, respond_by, resolve_by
        self.acknowledged_at: datetime | None = None
        self.acknowledged_by: str | None = None
        self.ack_lapsed = False  # the notifier re-triggered: it may be acknowledged again
        self.resolved_at: datetime | None = None
        self.resolved_by: str | None = None
        self.resolution = ""
        self.capa_id: str | None = None
        self.notification_keys: list[str] = []
        self.escalation_steps: list[int] = []
        self.escalation_reasons: list[str] = []  # a repeated ladder fires a step again
        self.staffed = False
        self.verified_action_ids: list[str] = []
        self.capa_steps: list[str] = []
        self.sla_breaches: list[str] = []  # "respond", "resolve"
        self.raci: dict[RaciRole, list[str]] = {role: [] for role in RaciRole}
        self.root_cause: str | None = None
        self.closed_at: datetime | None = None
        self.archived_at: datetime | None = None
        self.used_links: dict[str, datetime] = {}  # one-click link id → when it was used

    @property
    def accepts_alerts(self) -> bool:
        """Alerts join an incident until service is restored; a later firing is a new outage
        and must page someone again."""
        return self.resolved_at is None and self.status not in _FINISHED

    # -- alerts ------------------------------------------------------------------------
    def record_alert(self, alert: dict[str, Any], at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        if alert["alert_id"] not in self.alert_ids:
            self._attach_alert(alert=alert, at=at, actor=actor, cause=cause)

    @event("AlertAttached")
    def _attach_alert(self, alert: dict[str, Any], at: datetime, actor: str,
                      cause: dict[str, Any]) -> None:
        self.alert_ids.append(alert["alert_id"])

    def record_alert_cleared(self, alert_id: str, value: float | None, cleared_at: datetime,
                             at: datetime, actor: str, cause: dict[str, Any]) -> None:
        if alert_id in self.alert_ids and alert_id not in self.cleared_alert_ids:
            self._clear_alert(alert_id=alert_id, value=value, cleared_at=cleared_at,
                              at=at, actor=actor, cause=cause)

    @event("AlertCleared")
    def _clear_alert(self, alert_id: str, value: float | None, cleared_at: datetime,
                     at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.cleared_alert_ids.append(alert_id)

    # -- people ------------------------------------------------------------------------
    def acknowledge(self, by: str, note: str, at: datetime, actor: str,
                    cause: dict[str, Any]) -> None:
        self.check_not_finished("be acknowledged")
        self.check_not_acknowledged()
        self._acknowledge(ref=self.ref, by=by, note=note,
                          status=str(self.status.at_least(Status.INVESTIGATING)),
                          at=at, actor=actor, cause=cause)
        if not self.raci[RaciRole.RESPONSIBLE]:  # who takes it on is responsible until told
            self._role_assigned(role=str(RaciRole.RESPONSIBLE), person=by, at=at, actor=actor,
                                cause=cause, via="acknowledged", ref=self.ref)

    @property
    def can_be_acknowledged(self) -> bool:
        return self.status not in _FINISHED and (self.acknowledged_at is None or self.ack_lapsed)

    def read_page(self, link_id: str, person: str, delivery_id: str, at: datetime,
                  cause: dict[str, Any]) -> bool:
        """The person paged opened their page's one-click link: a read receipt, recorded even
        when someone acknowledged already, and an acknowledgement as them when one is still
        wanted (True). Each link works once."""
        self.check_link_unused(link_id)
        acknowledges = self.can_be_acknowledged
        self._page_read(ref=self.ref, link_id=link_id, person=person, delivery_id=delivery_id,
                        acknowledged=acknowledges,
                        acknowledged_by=None if acknowledges else self.acknowledged_by,
                        at=at, actor=person, cause=cause)
        if acknowledges:
            self.acknowledge(person, "acknowledged from the page's one-click link", at, person,
                             cause)
        return acknowledges

    @event("PageRead")
    def _page_read(self, ref: str, link_id: str, person: str, delivery_id: str,
                   acknowledged: bool, acknowledged_by: str | None, at: datetime, actor: str,
                   cause: dict[str, Any]) -> None:
        self.used_links[link_id] = at

    # -- RACI ----------------------------------------------------------------------------------
    def assign(self, role: RaciRole, person: str, at: datetime, actor: str,
               cause: dict[str, Any]) -> None:
        self.check_not_finished(f"change who is {role}")
        if person not in self.raci[role]:
            self._role_assigned(role=str(role), person=person, at=at, actor=actor, cause=cause,
                                ref=self.ref)

    def staff(self, raci: dict[str, list[str]], unresolved: list[str], at: datetime,
              actor: str, cause: dict[str, Any]) -> None:
        """The RACI matrix's people for this incident (the notifier resolves them against
        the organisation). A role someone was already given, by hand or by acknowledging,
        keeps them; staffing arrives once."""
        if self.staffed:
            return
        given = {role: people for role, people in raci.items()
                 if people and not self.raci[RaciRole(role)]}
        kept = [role for role, people in raci.items() if people and role not in given]
        self._staffed(raci=given, kept=kept, unresolved=unresolved, at=at, actor=actor,
                      cause=cause)

    @event("Staffed")
    def _staffed(self, raci: dict[str, list[str]], kept: list[str], unresolved: list[str],
                 at: datetime, actor: str, cause: dict[str, Any]) -> None:
        for role, people in raci.items():
            self.raci[RaciRole(role)] = list(people)
        self.staffed = True

    @event("RoleAssigned")
    def _role_assigned(self, role: str, person: str, at: datetime, actor: str,
                       cause: dict[str, Any], via: str = "hand", ref: str | None = None) -> None:
        role = RaciRole(role)
        self.raci[role] = [person] if role.single else [*self.raci[role], person]

    @event("Acknowledged")
    def _acknowledge(self, ref: str, by: str, note: str, status: str, at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        if self.acknowledged_at is None:  # the response time is the first acknowledgement's
            self.acknowledged_at, self.acknowledged_by = at, by
        self.ack_lapsed = False
        self.status = Status(status)

    def resolve(self, by: str, summary: str, at: datetime, actor: str,
                cause: dict[str, Any], verdict: str = "confirmed") -> None:
        """Containment is done and service restored; resolving implies acknowledging."""
        self.check_not_finished("be resolved")
        self.check_not_resolved()
        if self.acknowledged_at is None:
            self.acknowledge(by, "acknowledged on resolution", at, actor, cause)
        self._resolve(ref=self.ref, severity=str(self.severity), title=self.title,
                      entity=self.entity, by=by, summary=summary,
                      status=str(self.status.at_least(Status.PLANNING)),
                      fingerprint=self.fingerprint, verdict=verdict,
                      at=at, actor=actor, cause=cause)

    @event("Resolved")
    def _resolve(self, ref: str, severity: str, title: str, entity: str, by: str, summary: str,
                 status: str, at: datetime, actor: str, cause: dict[str, Any],
                 fingerprint: str = "", verdict: str = "confirmed") -> None:
        self.resolved_at, self.resolved_by, self.resolution = at, by, summary
        self.verdict = verdict
        self.status = Status(status)

    def archive(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.check_closed_before_archiving()
        self._archive(at=at, actor=actor, cause=cause)

    @event("Archived")
    def _archive(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.archived_at = at
        self.status = Status.ARCHIVED

    # -- SLA ---------------------------------------------------------------------------------
    def record_sla_breach(self, kind: str, at: datetime, actor: str,
                          cause: dict[str, Any]) -> bool:
        """Once per deadline: `respond` when nobody acknowledged by respond_by, `resolve` when
        service was not restored by resolve_by. False when there is nothing to record."""
        deadline, met = ((self.respond_by, self.acknowledged_at) if kind == "respond"
                         else (self.resolve_by, self.resolved_at))
        if kind in self.sla_breaches or met is not None or at < deadline \
                or self.status in _FINISHED:
            return False
        self._sla_breached(kind=kind, deadline=deadline, severity=str(self.severity),
                           ref=self.ref, at=at, actor=actor, cause=cause)
        return True

    @event("SlaBreached")
    def _sla_breached(self, kind: str, deadline: datetime, severity: str, ref: str,
                      at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.sla_breaches.append(kind)

    # -- notifier ------------------------------------------------------------------------
    # Facts from other services are recorded, never refused: refusing cannot undo them.
    # Each is recorded once, so a re-sent message stores nothing new.
    def record_notification(self, outcome: str, notification: dict[str, Any], at: datetime,
                            actor: str, cause: dict[str, Any]) -> None:
        key = f"{outcome}:{notification['notification_id']}"
        if key in self.notification_keys:
            return
        record = self._notified if outcome == "delivered" else self._notification_failed
        record(notification=notification, at=at, actor=actor, cause=cause)

    @event("NotificationDelivered")
    def _notified(self, notification: dict[str, Any], at: datetime, actor: str,
                  cause: dict[str, Any]) -> None:
        self.notification_keys.append(f"delivered:{notification['notification_id']}")

    @event("NotificationFailed")
    def _notification_failed(self, notification: dict[str, Any], at: datetime, actor: str,
                             cause: dict[str, Any]) -> None:
        self.notification_keys.append(f"failed:{notification['notification_id']}")

    def record_escalation(self, step: int, channel_ids: list[str], waited_seconds: float,
                          at: datetime, actor: str, cause: dict[str, Any],
                          channel_names: list[str] | None = None, reason: str | None = None,
                          people: list[str] | None = None,
                          unresolved: list[str] | None = None) -> None:
        reason = reason or f"escalation.step{step}"
        if reason not in self.escalation_reasons:
            self._escalate(step=step, channel_ids=channel_ids, waited_seconds=waited_seconds,
                           at=at, actor=actor, cause=cause, channel_names=channel_names or [],
                           reason=reason, people=people or [], unresolved=unresolved or [])

    @event("Escalated")
    def _escalate(self, step: int, channel_ids: list[str], waited_seconds: float, at: datetime,
                  actor: str, cause: dict[str, Any], channel_names: tuple[str, ...] = (),
                  reason: str | None = None, people: tuple[str, ...] = (),
                  unresolved: tuple[str, ...] = ()) -> None:
        self.escalation_steps.append(step)
        self.escalation_reasons.append(reason or f"escalation.step{step}")
        if (reason or "").startswith(RETRIGGER):
            self.ack_lapsed = True

    def record_hold(self, hold: dict[str, Any], at: datetime, actor: str,
                    cause: dict[str, Any]) -> None:
        """The notifier holds this incident's notifications (`hold`: kind, hold_id, name,
        until, source_ref, at as NotificationsHeld says), or, for trial, never sends them."""
        if _hold_key(hold) not in self.notification_keys:
            self._notifications_held(hold=hold, at=at, actor=actor, cause=cause)

    @event("NotificationsHeld")
    def _notifications_held(self, hold: dict[str, Any], at: datetime, actor: str,
                            cause: dict[str, Any]) -> None:
        self.notification_keys.append(_hold_key(hold))

    def record_release(self, release: dict[str, Any], at: datetime, actor: str,
                       cause: dict[str, Any]) -> None:
        """What held the notifications ended while the incident was open: people are told
        from now on. Once per incident."""
        if "released" not in self.notification_keys:
            self._notifications_released(release=release, at=at, actor=actor, cause=cause)

    @event("NotificationsReleased")
    def _notifications_released(self, release: dict[str, Any], at: datetime, actor: str,
                                cause: dict[str, Any]) -> None:
        self.notification_keys.append("released")

    # -- CAPA ------------------------------------------------------------------------------
    def record_capa_opened(self, capa_id: str, title: str, at: datetime, actor: str,
                           cause: dict[str, Any]) -> None:
        if self.capa_id == capa_id or self.status in _FINISHED:
            return
        self._capa_opened(capa_id=capa_id, title=title,
                          status=str(self.status.at_least(Status.PLANNING)),
                          at=at, actor=actor, cause=cause)

    @event("CapaOpened")
    def _capa_opened(self, capa_id: str, title: str, status: str, at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        self.capa_id = capa_id
        self.status = Status(status)

    def record_capa_step(self, key: str, step: str, detail: dict[str, Any],
                         status: Status | None, at: datetime, actor: str,
                         cause: dict[str, Any]) -> None:
        """Root cause found, action planned, action done: each recorded once (by key); the
        status only moves forward (方案制定中 → 执行中 → 验证中)."""
        if key in self.capa_steps or self.status in _FINISHED:
            return
        moved = self.status if status is None else self.status.at_least(status)
        self._capa_step(key=key, step=step, detail=detail, status=str(moved), at=at,
                        actor=actor, cause=cause)

    @event("CapaStepRecorded")
    def _capa_step(self, key: str, step: str, detail: dict[str, Any], status: str, at: datetime,
                   actor: str, cause: dict[str, Any]) -> None:
        self.capa_steps.append(key)
        self.status = Status(status)

    def record_action_verified(self, capa_id: str, action_id: str, kind: str, owner: str,
                               verifier: str, at: datetime, actor: str,
                               cause: dict[str, Any]) -> None:
        if action_id in self.verified_action_ids or self.status in _FINISHED:
            return
        self._action_verified(capa_id=capa_id, action_id=action_id, kind=kind, owner=owner,
                              verifier=verifier,
                              status=str(self.status.at_least(Status.VERIFYING)),
                              at=at, actor=actor, cause=cause)

    @event("ActionVerified")
    def _action_verified(self, capa_id: str, action_id: str, kind: str, owner: str,
                         verifier: str, status: str, at: datetime, actor: str,
                         cause: dict[str, Any]) -> None:
        self.verified_action_ids.append(action_id)
        self.capa_id = self.capa_id or capa_id
        self.status = Status(status)

    def close(self, capa_id: str, root_cause: str, actions: int, at: datetime, actor: str,
              cause: dict[str, Any]) -> None:
        """The CAPA case closed: every action verified by someone other than its owner."""
        if self.status in _FINISHED:
            return
        self._close(ref=self.ref, capa_id=capa_id, root_cause=root_cause, actions=actions,
                    at=at, actor=actor, cause=cause)

    @event("Closed")
    def _close(self, ref: str, capa_id: str, root_cause: str, actions: int, at: datetime,
               actor: str, cause: dict[str, Any]) -> None:
        self.capa_id = self.capa_id or capa_id
        self.root_cause, self.closed_at = root_cause, at
        self.status = Status.CLOSED

    # -- guards ------------------------------------------------------------------------------
    def check_not_finished(self, doing: str) -> None:
        if self.status in _FINISHED:
            raise IncidentFinished(
                f"incident {self.ref} cannot {doing}: it is already {self.status} "
                f"({self.status.label})")

    def check_not_acknowledged(self) -> None:
        if self.acknowledged_at is not None and not self.ack_lapsed:
            raise AlreadyAcknowledged(
                f"incident {self.ref} cannot be acknowledged twice: {self.acknowledged_by} "
                f"acknowledged it at {self.acknowledged_at.isoformat()}")

    def check_link_unused(self, link_id: str) -> None:
        if link_id in self.used_links:
            raise LinkAlreadyUsed(
                f"this acknowledge link for incident {self.ref} was already used at "
                f"{self.used_links[link_id].isoformat()}; each link works once")

    def check_not_resolved(self) -> None:
        if self.resolved_at is not None:
            raise AlreadyResolved(
                f"incident {self.ref} cannot be resolved twice: {self.resolved_by} resolved it "
                f"at {self.resolved_at.isoformat()}")

    def check_closed_before_archiving(self) -> None:
        if self.status != Status.CLOSED:
            raise NotClosed(
                f"incident {self.ref} cannot be archived: only a closed incident can be, and it "
                f"is {self.status} ({self.status.label})")


def _hold_key(hold: dict[str, Any]) -> str:
    """A hold is new when its reason or its end changes (a silence extended holds again)."""
    return f"held:{hold['kind']}:{hold.get('hold_id')}:{hold.get('until')}"
