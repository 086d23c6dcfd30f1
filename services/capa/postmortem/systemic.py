"""The postmortem of a systemic problem as data, in no language: the signature and how often
it came back, the linked cases and entities, one timeline of the returns, the linked cases'
openings and closures and the problem's own analysis, then root cause, actions,
effectiveness across the organisation and lessons (docs/adr/systemic-postmortems.md)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from services.capa.postmortem.facts import (
    case_timeline, effectiveness, lessons, root_cause_view,
)

# The problem's own events that a CAPA case does not have; the shared analysis events keep
# the case's timeline kinds. RecurrenceLinked is told by the return it links (`recurred`).
_OWN = {"Raised": "systemic_raised", "EffectivenessWindowStarted": "window_started",
        "EffectivenessFailed": "effectiveness_failed", "Closed": "systemic_closed"}


def systemic_postmortem_facts(problem: dict[str, Any],
                              cases: list[dict[str, Any]]) -> dict[str, Any]:
    """`problem`: SystemicProblems.read with its `history`; `cases`: the linked CAPA cases as
    CapaApplication.case reads them."""
    return {
        "id": str(problem["id"]), "rule": problem["rule"], "signature": problem["signature"],
        "summary": problem["summary"], "status": problem["status"],
        "raised_at": problem["raised_at"], "closed_at": problem["closed_at"],
        "threshold": problem["threshold"],
        "period_days": round(problem["period_seconds"] / 86400, 2),
        "entities": problem["entities"],
        "recurrences": sorted(problem["recurrences"], key=lambda r: r["at"]),
        "cases": [_linked(c) for c in sorted(cases, key=lambda c: c["opened_at"])],
        "timeline": sorted(_returns(problem["recurrences"]) + _cases_timeline(cases)
                           + _own_timeline(problem["history"]), key=lambda e: e["at"]),
        "root_cause": root_cause_view(problem["root_cause"]),
        "actions": problem["actions"],
        "effectiveness": effectiveness(problem),
        "lessons": systemic_lessons(problem),
    }


def systemic_lessons(problem: dict[str, Any]) -> list[dict[str, str]]:
    """The case's lessons (cause, factors, fixes that did not hold, prevention), then what only
    a systemic problem teaches: where it spread, and each return that failed its window."""
    found = lessons(problem, [])  # no incident of its own: no SLA to have missed
    found.append({"kind": "spread", "text": ", ".join(problem["entities"])})
    found += [{"kind": "returned", "text": f["reason"]}
              for f in problem["effectiveness"]["failures"]]
    return found


def _linked(case: dict[str, Any]) -> dict[str, Any]:
    cause = case["root_cause"]
    return {"id": str(case["id"]), "ref": case["ref"], "entity": case["entity"],
            "title": case["title"], "status": case["status"], "opened_at": case["opened_at"],
            "closed_at": case["closed_at"], "root_cause": cause["statement"] if cause else None}


def _entry(at: datetime, kind: str, text: str, by: str = "") -> dict[str, Any]:
    return {"at": at, "source": "systemic", "kind": kind, "by": by, "text": text, "sla": ""}


def _returns(recurrences: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_entry(r["at"], "recurred", f"{r['ref']} {r['entity']}") for r in recurrences]


def _cases_timeline(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for case in cases:
        told = f"{case['ref']} {case['entity']}"
        found.append(_entry(case["opened_at"], "capa_opened", told))
        if case["closed_at"] is not None:
            found.append(_entry(case["closed_at"], "capa_closed", told))
    return found


def _own_timeline(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = [h for h in history if h["event"] != "RecurrenceLinked"]
    found = []
    for h, entry in zip(shown, case_timeline(shown)):
        kind = _OWN.get(h["event"])
        if kind is not None:
            entry = {**entry, "kind": kind, "text": _own_text(h["event"], h["data"])}
        found.append({**entry, "source": "systemic"})
    return found


def _own_text(event: str, data: dict[str, Any]) -> str:
    if event == "Raised":
        return data["summary"]
    if event == "EffectivenessWindowStarted":
        return f"→ {data['ends_at']:%Y-%m-%d %H:%M} UTC"
    if event == "Closed":
        return f"{data['text']} ({data['evidence']})"
    return data.get("reason", "")
