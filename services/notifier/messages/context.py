"""What a template is given: the notification's facts made ready to read for one person
(their language, their time zone) at the moment it is sent. docs/messages.md lists them."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.notifier.channels.base import Notification
from services.notifier.messages import vocabulary as words
from services.notifier.messages.drill import is_drill


def when(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def template_context(notification: Notification, medium: str, language: str, *,
                     family: str, ack_url: str | None, public_url: str | None,
                     now: datetime, time_zone: str | None) -> dict[str, Any]:
    incident, facts = notification.incident, notification.facts or {}
    about, recipient = notification.about or {}, notification.recipient or {}
    tz = words.zone(time_zone or recipient.get("time_zone"))
    severity = str(incident.get("severity") or "")
    firing_since = when(facts.get("firing_since")) or when(facts.get("opened_at"))
    deadline = _deadline(family, about, facts)
    due_at = when(deadline["at"]) if deadline else None
    responsible = about.get("responsible") or facts.get("responsible") or []
    # The incidents service answers an incident by its ref too: shorter, and readable in SMS.
    link = (f"{public_url.rstrip('/')}/v1/incidents/{incident.get('ref')}"
            if public_url and incident.get("ref") else None)
    return {
        "reason": notification.reason, "kind": family, "medium": medium, "language": language,
        "incident": {"id": incident.get("incident_id"), "ref": incident.get("ref") or "",
                     "title": incident.get("title") or "", "entity": incident.get("entity") or "",
                     # An exercise: the renderer marks every message 【演练】/[DRILL] (drill.py).
                     "drill": is_drill(notification)},
        # The unit (store, region) the entity belongs to, when the directory knew it.
        "unit": _unit(facts.get("unit")),
        "severity": words.severity_of(severity, language),
        "metric": facts.get("metric"), "value": facts.get("value"),
        "threshold": facts.get("threshold"),
        "firing_since": words.local(firing_since, tz),
        "firing_for": words.duration(now - firing_since, language) if firing_since else None,
        "deadline": None if deadline is None else {
            "kind": deadline["kind"], "name": words.named(words.DEADLINE_KINDS,
                                                         deadline["kind"], language),
            "at": words.local(due_at, tz),
            "time": due_at.astimezone(tz).strftime("%H:%M") if due_at else None,
            "overdue": due_at is not None and now > due_at,
            "left": words.duration(due_at - now, language) if due_at else None},
        "phase": about.get("phase"), "subject": about.get("subject"),
        # The progress cadence: the interval's start (the last update, else the opening or
        # the reopening) in a chase, and the next update's due time in an update.
        "since": words.local(when(about.get("since")), tz),
        "next_update": words.local(when(about.get("next_update_by")), tz),
        "respond_by": words.local(when(facts.get("respond_by")), tz),
        "resolve_by": words.local(when(facts.get("resolve_by")), tz),
        "responsible": [str(r) for r in responsible],
        "role": words.named(words.RACI_LETTERS, _letter(notification.reason), language),
        "letter": (_letter(notification.reason) or "")[:1].upper() or None,
        "recipient": {"name": recipient.get("name"), "handle": recipient.get("handle")},
        "link": link, "ack_url": ack_url,
        "now": words.local(now, tz), "time_zone": tz.key,
        "systemic": _systemic(about.get("systemic")),
        # Support tiers: the tier entered, why, and the handover package passed on.
        "tier": about.get("tier"), "group": about.get("group"), "team": about.get("team"),
        "why": about.get("why"), "package": about.get("package"),
    }


def _systemic(found: Any) -> dict[str, Any] | None:
    """A systemic problem reported up (capa.systemic): what recurred, how often, where."""
    if not isinstance(found, dict):
        return None
    return {"rule": str(found.get("rule") or ""), "summary": str(found.get("summary") or ""),
            "recurrences": int(found.get("recurrences") or 0),
            "days": round(float(found.get("period_seconds") or 0) / 86400),
            "entities": [str(e) for e in found.get("entities") or []],
            "refs": [str(r) for r in found.get("incident_refs") or []],
            "id": str(found.get("id") or ""),
            # Its closure (capa.systemic_closed): what it was, and who saw that the fix held.
            "root_cause": str(found.get("root_cause") or ""),
            "actions": int(found.get("actions") or 0),
            "window_days": round(float(found.get("window_seconds") or 0) / 86400),
            "checked_by": str(found.get("checked_by") or ""),
            "check": str(found.get("check") or "")}


def _deadline(family: str, about: dict[str, Any], facts: dict[str, Any]) -> dict | None:
    """The deadline the message is about: a chase's own; before an acknowledgement the time
    to acknowledge, after it the time to resolve; none once resolved."""
    if about.get("due_at"):
        return {"kind": about.get("deadline"), "at": about["due_at"]}
    if family in ("incident.opened", "escalation.step", "raci.assigned", "default"):
        return {"kind": "respond", "at": facts.get("respond_by")} if facts.get(
            "respond_by") else None
    if family in ("escalation.retrigger", "incident.acknowledged", "incident.reopened",
                  "incident.severity_changed", "incident.progress"):
        return {"kind": "resolve", "at": facts.get("resolve_by")} if facts.get(
            "resolve_by") else None
    return None


def _unit(unit: Any) -> dict[str, str] | None:
    if not isinstance(unit, dict) or not unit.get("name"):
        return None
    return {"key": str(unit.get("key") or ""), "name": str(unit["name"])}


def _letter(reason: str) -> str | None:
    return reason.rsplit(".", 1)[1] if reason.startswith("raci.assigned.") else None
