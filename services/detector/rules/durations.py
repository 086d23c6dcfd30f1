"""Durations in rules: seconds as a number, or a number and a unit ("15m", "2h", "1w").
A duration is kept as written, so a dumped rule reads like the one sent."""
from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_duration(text: str | int | float) -> float:
    """'90s', '15m', '2h', '1d', '1w' (or a number of seconds) → seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        found = _DURATION.match(str(text))
        if not found:
            raise ValueError(f"'{text}' is not a duration: write a number and a unit, "
                             "e.g. 90s, 15m, 2h, 1d, 1w")
        seconds = float(found[1]) * _UNITS[found[2]]
    if not seconds > 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    return seconds


def _duration(value: Any) -> int | float | str:
    if not isinstance(value, int | float | str) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration: give seconds or e.g. 15m, 2h, 1d")
    parse_duration(value)
    return value  # kept as written, so a dumped rule reads like the one sent


def _duration_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration: write a number and a unit, e.g. 15m")
    return _duration(value)


_TEXT_SCHEMA = {"type": "string", "pattern": _DURATION.pattern}
# A duration: seconds as a number, or a string such as "15m"; stored as given.
Duration = Annotated[int | float | str, PlainValidator(_duration),
                     WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0},
                                               _TEXT_SCHEMA]})]
DurationText = Annotated[str, PlainValidator(_duration_text), WithJsonSchema(_TEXT_SCHEMA)]
