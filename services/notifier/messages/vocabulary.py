"""The words messages are made of, per language: severity badges, deadline and phase names,
durations. Templates get them ready-made so that an override need not know the tables."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGUAGES = ("zh", "en")
DEFAULT_ZONE = "Asia/Shanghai"  # a person's default time zone (directory/people.py)

# Colour first so a glance at a chat list is enough; the hex is the same colour for HTML.
SEVERITIES = {
    "P0": {"icon": "🔴", "colour": "#d93025", "zh": "严重", "en": "Critical"},
    "P1": {"icon": "🟠", "colour": "#f57c00", "zh": "重要", "en": "Major"},
    "P2": {"icon": "🟡", "colour": "#f9ab00", "zh": "中度", "en": "Moderate"},
    "P3": {"icon": "🔵", "colour": "#1a73e8", "zh": "轻度", "en": "Minor"},
}

# What a deadline is for (raci/ deadlines' kinds), said as the person knows it.
DEADLINE_KINDS = {
    "respond": {"zh": "响应", "en": "acknowledge"},
    "resolve": {"zh": "解决", "en": "resolve"},
    "close": {"zh": "闭环", "en": "close the case"},
    "planning": {"zh": "方案制定", "en": "plan the fix"},
    "executing": {"zh": "执行", "en": "carry out the plan"},
    "verifying": {"zh": "验证", "en": "verify the fix"},
    "action": {"zh": "整改措施", "en": "complete the action"},
    "verification": {"zh": "措施验证", "en": "verify the action"},
    "tier": {"zh": "本级支持处理", "en": "handle it in this support tier"},
    "checklist": {"zh": "SOP检查项", "en": "complete the checklist item"},
    "progress": {"zh": "进展汇报", "en": "post a progress update"},
}

RACI_LETTERS = {
    "responsible": {"zh": "负责人（R）", "en": "Responsible (R)"},
    "accountable": {"zh": "批准人（A）", "en": "Accountable (A)"},
    "consulted": {"zh": "咨询人（C）", "en": "Consulted (C)"},
    "informed": {"zh": "知会人（I）", "en": "Informed (I)"},
}

UNITS = {"zh": (("天", 86400), ("小时", 3600), ("分钟", 60), ("秒", 1)),
         "en": ((" d", 86400), (" h", 3600), (" min", 60), (" s", 1))}
SEPARATOR = {"zh": "", "en": " "}


def severity_of(code: str, language: str) -> dict[str, str]:
    found = SEVERITIES.get(code.upper(), {"icon": "⚪", "colour": "#5f6368", "zh": code,
                                          "en": code})
    return {"code": code, "icon": found["icon"], "colour": found["colour"],
            "label": found[language]}


def named(table: dict[str, dict[str, str]], key: str | None, language: str) -> str | None:
    if key is None:
        return None
    return table.get(key, {}).get(language, key)


def duration(span: timedelta | None, language: str) -> str | None:
    """Two units at most ("1小时5分钟", "1 h 5 min"): enough to act on, short for SMS."""
    if span is None:
        return None
    seconds, parts = int(abs(span.total_seconds())), []
    for unit, size in UNITS[language]:
        if seconds >= size or (not parts and size == 1):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return SEPARATOR[language].join(parts)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):  # a person's zone was checked when saved
        return ZoneInfo(DEFAULT_ZONE)


def local(at: datetime | None, tz: ZoneInfo) -> str | None:
    """A time as the recipient reads it: their zone, to the minute, the zone named."""
    if at is None:
        return None
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def number(value: float | None) -> str:
    """12.0 → "12", 0.125 → "0.125", 12345.678 → "12345.68": no float noise in a page."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.2f}"
