"""The postmortem as data, in no language: summary, impact, timeline, root cause, actions,
effectiveness and lessons, from a case (CapaApplication.case) and its incident's facts."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.capa.domain import Category
from services.capa.domain.incident_facts import FactKind

# The case's own events as timeline kinds; an event not named here keeps its name (a newer
# event, e.g. an effectiveness check, still shows up).
_CASE_EVENTS = {"Opened": "capa_opened", "RootCauseRecorded": "root_cause",
                "ActionAdded": "action_added", "ActionCompleted": "action_completed",
                "ActionVerified": "action_verified", "ActionReopened": "action_reopened",
                "EffectivenessWindowStarted": "case_window_started",
                "EffectivenessFailed": "case_window_failed",
                "EffectivenessHeldOpen": "case_window_held_open",
                "EffectivenessChecked": "case_window_checked",
                "MetricWentSilent": "metric_silent", "MetricResumed": "metric_resumed",
                "Recurred": "case_recurred", "HistoryLinked": "history_linked",
                "ProblemRecurrenceLinked": "problem_recurrence", "MarkedDrill": "drill",
                "Closed": "capa_closed"}


def postmortem_facts(case: dict[str, Any], heard: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ref": case["ref"], "title": case["title"], "incident_id": case["incident_id"],
        "capa_id": str(case["id"]), "status": case["status"],
        "drill": bool(case.get("drill", False)),  # an exercise: the report says so first
        "severity": _severity(case, heard), "entity": case["entity"],
        "summary": {"resolution": case["resolution"], "resolved_by": case["resolved_by"],
                    "verdict": _last(heard, FactKind.RESOLVED, "verdict")},
        "impact": impact(heard),
        "timeline": sorted(_incident_timeline(heard) + case_timeline(case["history"]),
                           key=_in_order),
        "root_cause": root_cause_view(case["root_cause"]),
        "actions": case["actions"],
        "effectiveness": effectiveness(case),
        "lessons": lessons(case, heard),
    }


def effectiveness(case: dict[str, Any]) -> dict[str, Any] | None:
    """What the effectiveness check found, in a reader's terms; None before it starts."""
    found = case.get("effectiveness") or {}
    failures, check = found.get("failures") or [], found.get("check")
    if not (failures or check or found.get("started_at")) and case["status"] != "closed":
        return None
    result = ("effective" if case["status"] == "closed"
              else "watching" if found.get("started_at") else "failed")
    summary: dict[str, Any] = {"result": result}
    if found.get("window_seconds"):
        summary["window_days"] = round(found["window_seconds"] / 86400, 2)
    if failures:
        summary["failures"] = "; ".join(f["reason"] for f in failures)
    if check:
        summary.update(checked_by=check["by"], check=check["text"], evidence=check["evidence"])
    return summary


def _in_order(entry: dict[str, Any]) -> tuple[datetime, bool]:
    # The incident closes because its case closed: at the same instant, the case goes first.
    return entry["at"], entry["source"] == "incident" and entry["kind"] == FactKind.CLOSED


def impact(heard: list[dict[str, Any]]) -> dict[str, Any]:
    """Duration, time to acknowledge and both SLAs; None where capa never heard the fact."""
    opened = _first(heard, FactKind.OPENED)
    acknowledged = _first(heard, FactKind.ACKNOWLEDGED)
    resolved = _latest(heard, FactKind.RESOLVED)
    # The deadlines in force at the end: a severity change or a reopening moves them.
    respond_by = _deadline(heard, "respond_by")
    resolve_by = _deadline(heard, "resolve_by")
    breached = {f["data"].get("kind") for f in heard if f["kind"] == FactKind.SLA_BREACHED}
    start = opened["at"] if opened else None
    return {
        "opened_at": start,
        "acknowledged_at": acknowledged["at"] if acknowledged else None,
        "acknowledged_by": acknowledged["by"] if acknowledged else None,
        "resolved_at": resolved["at"] if resolved else None,
        "duration_minutes": _minutes(start, resolved["at"] if resolved else None),
        "acknowledge_minutes": _minutes(start, acknowledged["at"] if acknowledged else None),
        "respond_by": respond_by, "resolve_by": resolve_by,
        "respond_sla": _sla("respond" in breached, acknowledged, respond_by),
        "resolve_sla": _sla("resolve" in breached, resolved, resolve_by),
        "reopened": sum(1 for f in heard if f["kind"] == FactKind.REOPENED),
    }


def lessons(case: dict[str, Any], heard: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What to take away, from what the case recorded: the cause, the factors around it, the
    fixes that did not hold at first, the SLAs missed, and the preventive actions."""
    found: list[dict[str, str]] = []
    cause = case["root_cause"]
    if cause:
        found.append({"kind": "root_cause", "text": cause["statement"]})
        found += [{"kind": "factor", "text": f"{_label(f['category'])} {f['factor']}"}
                  for f in cause["contributing_factors"]]
    found += [{"kind": "not_effective", "text": h["data"].get("note", "")}
              for h in case["history"] if h["event"] == "ActionReopened"]
    found += [{"kind": f"{kind}_breached", "text": ""} for kind in ("respond", "resolve")
              if impact(heard)[f"{kind}_sla"] == "breached"]
    found += [{"kind": "prevent", "text": a["title"]} for a in case["actions"]
              if a["kind"] == "preventive"]
    return found


def _incident_timeline(heard: list[dict[str, Any]]) -> list[dict[str, Any]]:
    texts = {FactKind.SEVERITY_CHANGED: lambda d: f"{d['previous']} → {d['severity']}: {d['reason']}",
             FactKind.PROGRESS: lambda d: d["text"], FactKind.REOPENED: lambda d: d["reason"],
             FactKind.RESOLVED: lambda d: d["summary"], FactKind.OPENED: lambda d: d["title"]}
    return [{"at": f["at"], "source": "incident", "kind": str(f["kind"]), "by": f["by"],
             "text": texts.get(f["kind"], lambda d: "")(f["data"]),
             "sla": f["data"].get("kind", "")} for f in heard]


def case_timeline(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def text(h: dict[str, Any]) -> str:
        d = h["data"]
        if "action_id" in d:
            return " ".join(p for p in (d["action_id"], d.get("title") or d.get("evidence")
                                        or d.get("note") or "") if p)
        return (d.get("statement") or d.get("title") or d.get("reason") or d.get("text")
                or "")

    return [{"at": h["at"], "source": "capa", "kind": _CASE_EVENTS.get(h["event"], h["event"]),
             "by": h["actor"], "text": text(h), "sla": ""} for h in history]


def root_cause_view(cause: dict[str, Any] | None) -> dict[str, Any] | None:
    if cause is None:
        return None
    return {**cause, "category_label": _label(cause["category"]) if cause["category"] else None,
            "contributing_factors": [{**f, "label": _label(f["category"])}
                                     for f in cause["contributing_factors"]]}


def _label(category: str) -> str:
    return f"{Category(category).label} ({category})"


def _severity(case: dict[str, Any], heard: list[dict[str, Any]]) -> str:
    return _last(heard, FactKind.SEVERITY_CHANGED, "severity") or case["severity"]


def _first(heard: list[dict[str, Any]], kind: FactKind) -> dict[str, Any] | None:
    return next((f for f in heard if f["kind"] == kind), None)


def _latest(heard: list[dict[str, Any]], kind: FactKind) -> dict[str, Any] | None:
    return next((f for f in reversed(heard) if f["kind"] == kind), None)


def _last(heard: list[dict[str, Any]], kind: FactKind, key: str) -> str | None:
    fact = _latest(heard, kind)
    return fact["data"].get(key) if fact else None


def _deadline(heard: list[dict[str, Any]], key: str) -> datetime | None:
    value = next((f["data"][key] for f in reversed(heard) if key in f["data"]), None)
    return datetime.fromisoformat(value) if value else None


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    return int((end - start).total_seconds() // 60) if start and end else None


def _sla(breached: bool, fact: dict[str, Any] | None, deadline: datetime | None) -> str:
    if breached:
        return "breached"
    if fact is None or deadline is None:
        return "unknown"
    return "met" if fact["at"] <= deadline else "breached"
