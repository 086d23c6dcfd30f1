"""Lengths of time written in settings as `90d`, `30m`, `45s` (units s, m, h, d)."""
from __future__ import annotations

from datetime import timedelta

from shared.errors import Invalid

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_length(name: str, text: str) -> timedelta:
    """`90d`, `12h` (units s, m, h, d); refuses what it cannot read, naming the setting."""
    text = text.strip()
    if not (text[:-1].isdigit() and text[-1:] in _UNITS and int(text[:-1]) > 0):
        raise Invalid(name, f"{text!r} is not a positive length in s, m, h or d, e.g. 90d")
    return timedelta(seconds=int(text[:-1]) * _UNITS[text[-1]])
