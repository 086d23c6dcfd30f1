"""Reads history for a backtest: samples from CSV (NAB's `timestamp,value` or the richer
entity/label forms) and labelled windows (a list of objects or NAB's combined_windows shape)."""
from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .model import Window

Sample = tuple[str, str, Mapping[str, str], float, float]
DEFAULT_ENTITY = "default"
COLUMNS = {"timestamp", "metric", "entity", "value", "labels"}
ALIASES = {"ts": "timestamp", "time": "timestamp"}
TS_HELP = "use ISO 8601 (2014-07-01T00:30:00Z), 'YYYY-MM-DD HH:MM:SS' (UTC) or epoch seconds"


def parse_timestamp(text: str) -> float:
    """ISO 8601 or 'YYYY-MM-DD HH:MM:SS' (naive = UTC) or epoch seconds → epoch seconds."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise ValueError(f"timestamp '{text}' is not a time; {TS_HELP}")
        if abs(number) >= 1e11:   # 1e11 s is the year 5138: this is milliseconds
            raise ValueError(f"timestamp '{text}' looks like milliseconds; give epoch seconds")
        return number
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp '{text}' is not a time; {TS_HELP}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def read_samples_csv(text: str, *, metric: str, entity: str | None = None) -> list[Sample]:
    """Samples (metric, entity, labels, ts, value) from CSV text.

    Forms: `timestamp,value` (NAB); headerless `timestamp,entity,value[,key=value...]`; or a
    header naming columns among timestamp, metric, entity, value, labels (`k=v;k=v`), any
    other named column being a label. `metric` and `entity` fill rows that don't say."""
    rows = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(text)), start=1)
            if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
    if not rows:
        return []
    header = _header(*rows[0])
    if header is not None:
        rows = rows[1:]
    default_entity = entity or DEFAULT_ENTITY
    return [_sample(n, cells, header, metric, default_entity) for n, cells in rows]


def _header(line: int, cells: list[str]) -> list[str] | None:
    """The first row is a header when its first cell is neither a time nor a number."""
    try:
        float(cells[0])
        return None   # epoch seconds (or a bad one, which the row itself reports)
    except ValueError:
        pass
    try:
        parse_timestamp(cells[0])
        return None
    except ValueError:
        pass
    names = [ALIASES.get(c.strip().lower(), c.strip().lower()) for c in cells]
    if not COLUMNS & set(names):   # not a header either: a first row with a bad time
        raise ValueError(f"line {line}: timestamp '{cells[0].strip()}' is not a time; {TS_HELP}")
    for needed in ("timestamp", "value"):
        if needed not in names:
            raise ValueError(f"line {line}: the header {','.join(cells)!r} has no '{needed}' column; "
                             "name the columns timestamp,value or timestamp,entity,value")
    return names


def _sample(line: int, cells: list[str], header: list[str] | None, metric: str,
            entity: str) -> Sample:
    try:
        fields, labels = _fields(cells, header)
        ts = parse_timestamp(fields["timestamp"])
        value = _number(fields["value"])
    except ValueError as error:
        raise ValueError(f"line {line}: {error}") from None
    return (fields.get("metric") or metric, fields.get("entity") or entity, labels, ts, value)


def _fields(cells: list[str], header: list[str] | None) -> tuple[dict[str, str], dict[str, str]]:
    cells = [c.strip() for c in cells]
    if header is None:
        if len(cells) < 2:
            raise ValueError(f"expected timestamp,value or timestamp,entity,value[,key=value...], "
                             f"got {len(cells)} column")
        if len(cells) == 2:
            return {"timestamp": cells[0], "value": cells[1]}, {}
        return ({"timestamp": cells[0], "entity": cells[1], "value": cells[2]},
                _pairs(cells[3:], ","))
    if len(cells) < len(header):
        raise ValueError(f"expected {len(header)} columns ({','.join(header)}), got {len(cells)}")
    named = dict(zip(header, cells))
    fields = {k: v for k, v in named.items() if k in COLUMNS and k != "labels"}
    labels = {k: v for k, v in named.items() if k not in COLUMNS and v}
    labels.update(_pairs(named.get("labels", "").split(";"), ";"))
    labels.update(_pairs(cells[len(header):], ","))
    return fields, labels


def _pairs(items: list[str], separator: str) -> dict[str, str]:
    labels = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"label '{item}' is not key=value; write labels as "
                             f"region=north{separator}format=mall")
        labels[key.strip()] = value.strip()
    return labels


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"value '{text}' is not a number; write it like 41 or 41.5") from None


def read_windows(obj: Any) -> list[Window]:
    """Windows from a list of {start, end, entity?} or NAB's [[start, end], ...] (one file's
    entry of combined_windows.json); JSON text is accepted too. Times as parse_timestamp."""
    if isinstance(obj, (str, bytes)):
        obj = json.loads(obj)
    if not isinstance(obj, list):
        raise ValueError("windows must be a list of {start, end, entity?} or [[start, end], ...]")
    return [_window(i, item) for i, item in enumerate(obj)]


def _window(index: int, item: Any) -> Window:
    if isinstance(item, Window):
        return item
    if isinstance(item, Mapping):
        start, end, entity = item.get("start"), item.get("end"), item.get("entity")
    elif isinstance(item, (list, tuple)) and len(item) == 2:
        (start, end), entity = item, None
    else:
        raise ValueError(f"window {index}: expected {{start, end, entity?}} or [start, end], "
                         f"got {item!r}")
    if start is None or end is None:
        raise ValueError(f"window {index}: needs both start and end")
    try:
        lo, hi = _time(start), _time(end)
    except ValueError as error:
        raise ValueError(f"window {index}: {error}") from None
    if lo > hi:
        raise ValueError(f"window {index}: starts after it ends ({start} > {end}); swap them")
    return Window(lo, hi, None if entity is None else str(entity))


def _time(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return parse_timestamp(repr(float(value)))
    return parse_timestamp(str(value))
