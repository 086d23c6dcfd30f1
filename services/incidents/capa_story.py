"""The CAPA's steps on the incident's story, as capa reported them (pure)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.incidents.domain import Incident
from services.incidents.wording import clock, count, duration


def _capa_opened(e: Any, _: dict[str, Any]) -> str:
    return f"CAPA case {e.capa_id} opened: {e.title}"


def _action_verified(e: Any, _: dict[str, Any]) -> str:
    return (f"{e.kind} action {e.action_id} owned by {e.owner} verified by {e.verifier} "
            f"(CAPA {e.capa_id})")


def _capa_step(e: Any, _: dict[str, Any]) -> str:
    return _CAPA_STEPS.get(e.step, lambda d: "")(e.detail)


def _root_cause_found(d: dict[str, Any]) -> str:
    method = {"5whys": "5 whys", "fishbone": "fishbone"}.get(d["method"], d["method"])
    category = f", category {d['category']}" if d.get("category") else ""
    whys = f"; {count(len(d['whys']), 'why')} asked" if d.get("whys") else ""
    return f"root cause ({method}{category}): {d['statement']!r}{whys}"


def _action_planned(d: dict[str, Any]) -> str:
    return (f"{d['kind']} action {d['action_id']} {d['title']!r} owned by {d['owner']}, due "
            f"{d['due_date']}; done when: {d['acceptance_criteria']}")


def _action_completed(d: dict[str, Any]) -> str:
    left = (f"{count(d['open_actions'], 'action')} still to do" if d["open_actions"]
            else "every action done: verification starts")
    return f"{d['kind']} action {d['action_id']} done by {d['completed_by']}: {d['evidence']} ({left})"


def _effectiveness_window(d: dict[str, Any]) -> str:
    if not d.get("fingerprint"):
        return ("every action verified: waiting for an effectiveness check by someone other "
                "than the action owners")
    return (f"every action verified: the alert must stay clear for "
            f"{duration(d['window_seconds'])}, until "
            f"{clock(datetime.fromisoformat(d['ends_at']))}")


def _effectiveness_failed(d: dict[str, Any]) -> str:
    return f"{d['reason']} (day {d['day']}): the CAPA case is back in analysis"


def _effectiveness_unobserved(d: dict[str, Any]) -> str:
    return f"{d['reason']}: the CAPA case stays open until samples arrive again"


def _effectiveness_lengthened(d: dict[str, Any]) -> str:
    return (f"samples again: the window is lengthened by the "
            f"{duration(d['unobserved_seconds'])} nobody could observe, until "
            f"{clock(datetime.fromisoformat(d['ends_at']))}")


_CAPA_STEPS: dict[str, Callable[[dict[str, Any]], str]] = {
    "root cause found": _root_cause_found,
    "action planned": _action_planned,
    "action completed": _action_completed,
    "effectiveness window": _effectiveness_window,
    "effectiveness check failed": _effectiveness_failed,
    "effectiveness window unobserved": _effectiveness_unobserved,
    "effectiveness window lengthened": _effectiveness_lengthened,
}


CAPA_STORY: dict[type, tuple[str, Callable[[Any, dict[str, Any]], str]]] = {
    Incident.CapaOpened: ("CAPA opened", _capa_opened),
    Incident.CapaStepRecorded: ("CAPA step", _capa_step),
    Incident.ActionVerified: ("action verified", _action_verified),
}
