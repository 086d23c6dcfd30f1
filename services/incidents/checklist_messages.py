"""Communication templates (话术模板) rendered with an incident's data, so a responder copies a
ready message for the store manager or the region lead, in SCQA order: Situation,
Complication, Question, Answer. Sandboxed Jinja2 as the notifier's message templates are
(the approach, not its code: services never import each other): a template reads the
variables it is given and can call nothing else; StrictUndefined makes a misspelt variable
fail when the file is loaded (every part is tried on a sample) rather than print a blank."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import ImmutableSandboxedEnvironment

PARTS = ("situation", "complication", "question", "answer")

_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False,
                                     trim_blocks=True, lstrip_blocks=True)
_UNITS = {"zh": (("天", 86400), ("小时", 3600), ("分钟", 60)),
          "en": ((" d", 86400), (" h", 3600), (" min", 60))}
_CJK_GAP = re.compile(r"(?<=[，。：；！？、」】）])\s+|(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])")
_NOBODY = {"zh": "待定", "en": "not named yet"}


def compile_part(source: str) -> Template:
    return _ENV.from_string(source)


def render_parts(parts: dict[str, Template], context: dict[str, Any]) -> dict[str, str]:
    return {part: tidy(parts[part].render(context)) for part in PARTS}


def tidy(text: str) -> str:
    """One line: YAML folds a long template's lines with spaces, which Chinese does not put
    between characters nor after its full-width punctuation."""
    return _CJK_GAP.sub("", " ".join(text.split()))


def message_context(state: dict[str, Any], checklist: dict[str, Any] | None, language: str,
                    time_zone: str, now: datetime, sender: str | None) -> dict[str, Any]:
    """What a template may say: the incident as a person names it, times in `time_zone`."""
    zone = ZoneInfo(time_zone)

    def local(at: datetime | None) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if at else ""

    def people(role: str) -> str:
        return "、".join(state["raci"].get(role) or []) if language == "zh" else \
            ", ".join(state["raci"].get(role) or [])

    items = (checklist or {}).get("items", [])
    pending = [i for i in items if i["state"] != "done"]
    next_item = min(pending, key=lambda i: i["due_at"]) if pending else None
    return {
        "ref": state["ref"], "severity": state["severity"], "title": state["title"],
        "entity": state["entity"], "summary": state.get("summary") or state["title"],
        "status": state["status_label"] if language == "zh" else state["status"],
        "opened_at": local(state["opened_at"]), "respond_by": local(state["respond_by"]),
        "resolve_by": local(state["resolve_by"]),
        "elapsed": duration(now - state["opened_at"], language),
        "responsible": people("responsible") or _NOBODY[language],
        "accountable": people("accountable") or _NOBODY[language],
        "reporter": state.get("reporter") or "", "sender": sender or "",
        "checklist": {
            "done": sum(1 for i in items if i["state"] == "done"), "total": len(items),
            "overdue": sum(1 for i in items if i["state"] == "overdue"),
            "next": None if next_item is None else {
                "title": next_item["title"][language], "due_at": local(next_item["due_at"])}},
        "now": local(now),
    }


def duration(span: timedelta, language: str) -> str:
    """Two units at most ("1小时5分钟", "1 h 5 min"); under a minute is "0分钟"/"0 min"."""
    seconds, said = max(int(span.total_seconds()), 0), []
    for unit, size in _UNITS[language]:
        if seconds >= size and len(said) < 2:
            said.append(f"{seconds // size}{unit}")
            seconds %= size
    return ("" if language == "zh" else " ").join(said) or f"0{_UNITS[language][-1][0]}"


def sample_context(language: str) -> dict[str, Any]:
    """Every variable a template may use, to try each part on when the file is loaded."""
    opened = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("UTC"))
    state = {"ref": "P0-2026-12-001", "severity": "P0", "title": "收银台卡顿",
             "entity": "store-017", "summary": "三号收银台每笔交易要等一分钟",
             "status": "investigating", "status_label": "调查中", "opened_at": opened,
             "respond_by": opened + timedelta(minutes=5),
             "resolve_by": opened + timedelta(hours=4),
             "raci": {"responsible": ["li.na"], "accountable": ["zhao.lei"]},
             "reporter": "sun.hao"}
    checklist = {"items": [{"state": "open", "due_at": opened + timedelta(minutes=15),
                            "title": {"zh": "已致电店长", "en": "Store manager called"}}]}
    return message_context(state, checklist, language, "UTC", opened + timedelta(minutes=9),
                           "zhou.min")
