"""An incident's story told from its own stored events: one line per event saying who did
what and why, in the order it happened (pure; no I/O)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.incidents.domain import Incident, RaciRole
from services.incidents.domain.incident import RETRIGGER
from services.incidents.checklist_views import CHECKLIST_STORY
from services.incidents.board_commands import BOARD_STORY
from services.incidents.closing_views import (
    CLOSING_STORY, closed_without_capa, closing_of_resolution,
)
from services.incidents.cadence_views import CADENCE_STORY
from services.incidents.capa_story import CAPA_STORY
from services.incidents.intake.story import INTAKE_STORY
from services.incidents.lifecycle_views import LIFECYCLE_STORY
from services.incidents.triage_views import TRIAGE_STORY
from services.incidents.sla_views import SLA_STORY
from services.incidents.tier_views import TIER_STORY
from services.incidents.wording import against, as_time, clock, count, duration, number

Describe = Callable[[Any, dict[str, Any]], str]


def timeline_of(events: list[Any]) -> list[dict[str, Any]]:
    """`events` are one incident's stored events, oldest first."""
    seen: dict[str, Any] = {}  # what earlier events said (deadlines, ref) for later sentences
    entries = []
    for stored in events:
        action, describe = _STORY.get(type(stored), (type(stored).__name__, _nothing))
        if action is None:
            continue
        if isinstance(stored, Incident.CapaStepRecorded):
            action = stored.step  # "root cause found", "action planned", "action completed"
        cause = getattr(stored, "cause", None) or {}
        entries.append({
            "at": getattr(stored, "at", stored.timestamp),
            "actor": getattr(stored, "actor", "") or "",
            "action": action,
            "detail": describe(stored, seen),
            "cause": {"correlation_id": cause.get("correlation_id"),
                      "causation_id": cause.get("causation_id")},
        })
    return entries


def _opened(e: Any, seen: dict[str, Any]) -> str:
    seen.update(ref=e.ref, respond_by=e.respond_by, resolve_by=e.resolve_by,
                severity=e.severity, fingerprint=e.fingerprint)
    alert = e.alert
    measured = ""
    if alert.get("value") is not None:
        measured = f", value {number(alert['value'])}"
        if alert.get("threshold") is not None:
            measured += f" against threshold {number(alert['threshold'])}"
    why = f": {alert['summary']}" if alert.get("summary") else ""
    if alert.get("drill"):  # an exercise: every line about it should make that plain
        why += " — a drill (演练), kept out of every KPI"
    if alert.get("reporter"):  # declared by hand: no alert behind it
        return (f"{e.severity} incident {e.ref} {alert.get('name')!r} on {e.entity} reported by "
                f"{alert['reporter']}{why}; respond by {clock(e.respond_by)}, resolve by "
                f"{clock(e.resolve_by)}")
    return (f"{e.severity} incident {e.ref} opened from alert {alert.get('name')!r} on {e.entity} "
            f"(alert {alert['alert_id']}{measured}){why}; respond by {clock(e.respond_by)}, "
            f"resolve by {clock(e.resolve_by)}")


def _alert_attached(e: Any, seen: dict[str, Any]) -> str:
    value = f" (value {number(e.alert['value'])})" if e.alert.get("value") is not None else ""
    if e.alert.get("fingerprint", seen.get("fingerprint")) != seen.get("fingerprint"):
        return (f"alert {e.alert['alert_id']} ({e.alert.get('name')}) on {e.alert['entity']} "
                f"at {e.alert['severity']}{value} fired in the same group; recorded on this "
                "incident instead of opening another")
    return (f"alert {e.alert['alert_id']} ({e.alert.get('name')}) fired again for the same "
            f"fingerprint{value}; recorded on this incident instead of opening another")


def _alert_cleared(e: Any, _: dict[str, Any]) -> str:
    value = f" at value {number(e.value)}" if e.value is not None else ""
    return (f"alert {e.alert_id} cleared{value}; the incident stays open until a person "
            f"resolves it")


def _delivered(e: Any, _: dict[str, Any]) -> str:
    n = e.notification
    status = f", HTTP {n['status_code']}" if n.get("status_code") is not None else ""
    return f"notified channel {n['channel_name']!r} ({n['reason']}), attempt {n['attempts']}{status}"


def _failed(e: Any, _: dict[str, Any]) -> str:
    n = e.notification
    return (f"could not notify channel {n['channel_name']!r} ({n['reason']}) after "
            f"{count(n['attempts'], 'attempt')}: {n['error']}")


def _escalated(e: Any, _: dict[str, Any]) -> str:
    # Names when the notifier sent them; ids from older events.
    channels = ", ".join(repr(c) for c in (e.channel_names or e.channel_ids)) or "no channels"
    people = getattr(e, "people", ())
    told = f"{', '.join(people)} via {channels}" if people else channels
    missed = getattr(e, "unresolved", ())
    unreached = f"; could not reach {'; '.join(missed)}" if missed else ""
    if (getattr(e, "reason", None) or "").startswith(RETRIGGER):
        return (f"acknowledged but still not resolved after {duration(e.waited_seconds)}: "
                f"reminder to {told}; the escalation resumes{unreached}")
    step = f"step {e.step}" + (f" (repeat {r})" if (r := _repeat_of(getattr(e, "reason", None)))
                               else "")
    return (f"no acknowledgement after {duration(e.waited_seconds)}: escalation {step} "
            f"notifies {told}{unreached}")


def _repeat_of(reason: str | None) -> int:
    """escalation.step1.repeat2 → 2; 0 on the ladder's first pass."""
    head, _, tail = (reason or "").rpartition(".repeat")
    return int(tail) if head and tail.isdigit() else 0


def _acknowledged(e: Any, seen: dict[str, Any]) -> str:
    note = f": {e.note}" if e.note else ""
    return f"{e.by} acknowledged {e.ref}{note} ({against(e.at, seen.get('respond_by'), 'response')})"


def _page_read(e: Any, seen: dict[str, Any]) -> str:
    ref = e.ref or seen.get("ref", "the incident")
    if e.acknowledged:
        outcome = "acknowledging it with one click"
    elif e.acknowledged_by:
        outcome = f"{e.acknowledged_by} had acknowledged it already"
    else:
        outcome = "it could no longer be acknowledged"
    return f"{e.person} opened the page for {ref} (delivery {e.delivery_id}): {outcome}"


def _resolved(e: Any, seen: dict[str, Any]) -> str:
    summary = f": {e.summary}" if e.summary else ""
    verdict = (" — the alert was a false positive"
               if getattr(e, "verdict", "confirmed") == "false_positive" else "")
    return (f"{e.by} resolved {e.ref}, service restored{summary}{verdict} "
            f"({against(e.at, seen.get('resolve_by'), 'resolution')})"
            f"{closing_of_resolution(e)}")


def _sla_breached(e: Any, _: dict[str, Any]) -> str:
    missed = {"respond": "nobody acknowledged", "resolve": "service was not restored",
              "close": "the case was not closed"}[e.kind]
    return (f"{e.severity} {e.kind} SLA missed: {missed} by {clock(e.deadline)} "
            f"({duration((e.at - e.deadline).total_seconds())} late when noticed)")


def _role_assigned(e: Any, seen: dict[str, Any]) -> str:
    role = RaciRole(e.role)
    how = "took it on" if e.actor == e.person else f"assigned by {e.actor}"
    return f"{e.person} is {role} ({role.label}) for {seen.get('ref', 'the incident')}: {how}"


def _staffed(e: Any, seen: dict[str, Any]) -> str:
    roles = [f"{RaciRole(role)} ({RaciRole(role).label}): {', '.join(people)}"
             for role, people in e.raci.items()]
    kept = [f"{role} kept as assigned" for role in e.kept]
    missing = [f"unresolved {why}" for why in e.unresolved]
    told = "; ".join(roles + kept + missing) or "nobody"
    return f"staffed from the {seen.get('severity', 'severity')}'s RACI matrix: {told}"


_HELD_BY = {"silence": "silence", "maintenance": "maintenance window",
            "inhibition": "inhibition rule"}


def _held(e: Any, _: dict[str, Any]) -> str:
    h = e.hold
    if h["kind"] == "trial":
        return ("raised by a rule in trial mode (内部试运行): recorded here, nobody is "
                "notified")
    name = f" {h['name']!r}" if h.get("name") else ""
    what = f"{_HELD_BY.get(h['kind'], h['kind'])}{name} ({h.get('hold_id')})"
    if h["kind"] == "inhibition":
        source = f" {h['source_ref']}" if h.get("source_ref") else " an inhibiting incident"
        return f"notifications held by {what} while{source} is open"
    until = f" until {clock(as_time(h['until']))}" if h.get("until") else ""
    return f"notifications held by {what}{until}: nobody is notified while it holds"


def _released(e: Any, _: dict[str, Any]) -> str:
    r = e.release
    name = f" {r['name']!r}" if r.get("name") else ""
    policies = f" ({', '.join(r['policies'])})" if r.get("policies") else ""
    return (f"{_HELD_BY.get(r['kind'], r['kind'])}{name} no longer holds the incident after "
            f"{duration(r['held_seconds'])} and it is still open: the first step is notified "
            f"now and the escalation{policies} starts from here")


def _closed(e: Any, _: dict[str, Any]) -> str:
    if (without := closed_without_capa(e)) is not None:
        return without
    return (f"CAPA {e.capa_id} closed with root cause {e.root_cause!r} and "
            f"{count(e.actions, 'action')} verified; incident {e.ref} is closed (已闭环)")


def _case_followed(e: Any, seen: dict[str, Any]) -> str:
    return (f"{e.reason}; its analysis continues in CAPA case {e.capa_id} of {e.ref}, and "
            f"{seen.get('ref', 'this incident')} closes when that case closes")


def _followed_case_closed(e: Any, seen: dict[str, Any]) -> str:
    return (f"CAPA {e.capa_id}, which analyses it, closed with root cause {e.root_cause!r}; "
            f"{seen.get('ref', 'the incident')} closes once it is resolved")


def _archived(e: Any, seen: dict[str, Any]) -> str:
    return f"{e.actor} archived {seen.get('ref', 'the incident')}"


def _nothing(_: Any, __: dict[str, Any]) -> str:
    return ""


_STORY: dict[type, tuple[str | None, Describe | None]] = {
    Incident.Opened: ("opened", _opened),
    Incident.AlertAttached: ("alert attached", _alert_attached),
    Incident.AlertCleared: ("alert cleared", _alert_cleared),
    Incident.NotificationDelivered: ("notification delivered", _delivered),
    Incident.NotificationFailed: ("notification failed", _failed),
    Incident.Escalated: ("escalated", _escalated),
    Incident.Staffed: ("staffed", _staffed),
    Incident.NotificationsHeld: ("notifications held", _held),
    Incident.NotificationsReleased: ("notifications released", _released),
    Incident.PageRead: ("page read", _page_read),
    Incident.Acknowledged: ("acknowledged", _acknowledged),
    Incident.Resolved: ("resolved", _resolved),
    Incident.SlaBreached: ("SLA breached", _sla_breached),
    Incident.RoleAssigned: ("role assigned", _role_assigned),
    Incident.Closed: ("closed", _closed),
    Incident.CaseFollowed: ("analysed in an earlier case", _case_followed),
    Incident.FollowedCaseClosed: ("earlier case closed", _followed_case_closed),
    Incident.Archived: ("archived", _archived),
    **LIFECYCLE_STORY,
    **TRIAGE_STORY,
    **SLA_STORY,
    **CLOSING_STORY,
    **INTAKE_STORY,
    **TIER_STORY,
    **CHECKLIST_STORY,
    **BOARD_STORY,
    **CADENCE_STORY,
    **CAPA_STORY,
}
