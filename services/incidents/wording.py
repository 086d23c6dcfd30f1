"""The words an incident's story is told in: times, spans, counts (pure)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def against(at: datetime, deadline: datetime | None, what: str) -> str:
    if deadline is None:
        return f"no {what} deadline"
    if at <= deadline:
        return f"within the {what} SLA, {duration((deadline - at).total_seconds())} to spare"
    return f"{duration((at - deadline).total_seconds())} past the {what} SLA"


def as_time(value: datetime | str) -> datetime:
    """Facts keep their contract's JSON form: times arrive as ISO text."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def clock(at: Any) -> str:
    if at.utcoffset() is None:
        return at.isoformat()
    return at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} days".replace(".0 days", " days")


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def number(value: float) -> str:
    return f"{value:g}"
