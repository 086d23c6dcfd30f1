"""Sample batches from HTTP, parsed and checked without a model per row: ingest runs at
hundreds of thousands of samples a second, and a per-row pydantic model costs more than the
evaluation. Two shapes, which may be mixed in one body:

    {"samples": [{"metric": "m", "entity": "e", "labels": {...}, "ts": ..., "value": 1.5}, ...],
     "series":  [{"metric": "m", "entity": "e", "labels": {...}, "ts": [...], "values": [...]}]}

`ts` is epoch seconds or ISO 8601 with a zone; a missing `ts` means now. A batch with any
malformed sample is refused whole, naming every bad field, so nothing is half-applied."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from fastapi.exceptions import RequestValidationError

from shared.limits import LABEL_VALUE, MAP_KEY, MAP_KEYS, NAME

MAX_ERRORS = 20
FUTURE_TOLERANCE = 300.0  # seconds a sample may lie ahead of the detector's clock


@dataclass
class Batch:
    keys: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # distinct series
    key_of: list[int] = field(default_factory=list)  # per sample: index into keys
    ts: list[float] | np.ndarray = field(default_factory=list)
    values: list[float] | np.ndarray = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ts)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.asarray(self.key_of, dtype=np.int64), np.asarray(self.ts, dtype=np.float64),
                np.asarray(self.values, dtype=np.float64))


class Problems:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, loc: tuple, message: str, kind: str, **ctx: Any) -> None:
        # Size errors carry pydantic's type and ctx, so shared.http words them like the others.
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"loc": ("body", *loc), "msg": message, "type": kind, "ctx": ctx})

    def raise_any(self) -> None:
        if self.errors:
            raise RequestValidationError(self.errors)


def parse_batch(body: bytes, now: float, limit: int) -> Batch:
    """Pure CPU work: callers run it in a worker thread. It does not pause the cyclic
    collector, which is process-wide and would pause it for every concurrent request too;
    the service freezes its long-lived objects at start-up instead (shared/service.py)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestValidationError([{"loc": ("body",), "type": "json_invalid",
                                       "msg": f"the body is not JSON: {error}"}]) from None
    if not isinstance(doc, dict) or not (doc.get("samples") or doc.get("series")):
        raise RequestValidationError([{"loc": ("body", "samples"), "type": "missing",
                                       "msg": "send a non-empty `samples` or `series` list"}])
    batch = _fast_batch(doc, now)
    if batch is None:  # something is off: the careful pass names every bad field
        batch = _careful_batch(doc, now)
    if len(batch) > limit:
        raise BatchTooLarge(len(batch), limit)
    return batch


def _fast_batch(doc: dict, now: float) -> Batch | None:
    """The common case, checked a column at a time; None when any check fails."""
    rows, series = doc.get("samples") or [], doc.get("series") or []
    if not isinstance(rows, list) or not isinstance(series, list):
        return None
    try:
        metrics = [r["metric"] for r in rows] + [s["metric"] for s in series]
        entities = [r["entity"] for r in rows] + [s["entity"] for s in series]
        labels = [r.get("labels") for r in rows] + [s.get("labels") for s in series]
        values = [r["value"] for r in rows]
        times = [r.get("ts") for r in rows]
        counts = [len(s["values"]) for s in series]
        if any(len(s["ts"]) != n for s, n in zip(series, counts)):
            return None
        for s in series:
            values.extend(s["values"])
            times.extend(s["ts"])
    except (KeyError, TypeError, AttributeError):
        return None
    if not (_names_ok(metrics) and _names_ok(entities) and _labels_ok(labels)
            and set(map(type, values)) <= {int, float}):
        return None
    time_types = set(map(type, times))
    if not time_types <= {int, float, type(None)}:
        return None
    try:
        ts = np.array([now if t is None else t for t in times] if type(None) in time_types
                      else times, dtype=np.float64)
        value_array = np.array(values, dtype=np.float64)
    except OverflowError:
        return None
    if not (np.isfinite(value_array).all() and np.isfinite(ts).all()
            and (ts <= now + FUTURE_TOLERANCE).all()):
        return None
    pairs = list(zip(metrics, entities))
    distinct = list(dict.fromkeys(pairs))
    position = {pair: i for i, pair in enumerate(distinct)}
    per_entry = list(map(position.__getitem__, pairs))
    batch = Batch(keys=[(metric, entity, {}) for metric, entity in distinct])
    for i in [i for i, entry_labels in enumerate(labels) if entry_labels]:
        metric, entity = pairs[i]
        batch.keys[per_entry[i]] = (metric, entity, labels[i])  # the latest labels win
    key_of = per_entry[:len(rows)]
    for key, n in zip(per_entry[len(rows):], counts):
        key_of.extend([key] * n)
    batch.key_of, batch.ts, batch.values = key_of, ts, value_array
    return batch


def _names_ok(names: list) -> bool:
    return (not names or (set(map(type, names)) == {str} and 0 < min(map(len, names))
                          and max(map(len, names)) <= NAME and "\x00" not in "".join(names)))


def _labels_ok(labels: list) -> bool:
    return all(isinstance(entry, dict) and len(entry) <= MAP_KEYS and all(
        isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= MAP_KEY
        and len(v) <= LABEL_VALUE for k, v in entry.items())
        for entry in labels if entry)


def _careful_batch(doc: dict, now: float) -> Batch:
    batch, problems, index = Batch(), Problems(), {}
    for i, row in enumerate(_list(doc, "samples", problems)):
        key = _series_key(row, ("samples", i), problems, index, batch)
        value = _value(row.get("value") if isinstance(row, dict) else None, ("samples", i, "value"), problems)
        ts = _time(row.get("ts") if isinstance(row, dict) else None, ("samples", i, "ts"), now, problems)
        if key is not None and value is not None and ts is not None:
            batch.key_of.append(key), batch.ts.append(ts), batch.values.append(value)
    for i, row in enumerate(_list(doc, "series", problems)):
        key = _series_key(row, ("series", i), problems, index, batch)
        times, values = (row.get("ts"), row.get("values")) if isinstance(row, dict) else (None, None)
        if not isinstance(values, list) or not isinstance(times, list) or len(times) != len(values):
            problems.add(("series", i), "`ts` and `values` must be lists of the same length", "list_type")
            continue
        for j, (t, v) in enumerate(zip(times, values)):
            value = _value(v, ("series", i, "values", j), problems)
            ts = _time(t, ("series", i, "ts", j), now, problems)
            if key is not None and value is not None and ts is not None:
                batch.key_of.append(key), batch.ts.append(ts), batch.values.append(value)
    problems.raise_any()
    return batch


class BatchTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"samples: {size} samples in one batch; the limit is {limit}. Split the batch.")
        self.size, self.limit = size, limit


def _list(doc: dict, name: str, problems: Problems) -> list:
    value = doc.get(name) or []
    if not isinstance(value, list):
        problems.add((name,), f"`{name}` must be a list", "list_type")
        return []
    return value


def _series_key(row: Any, loc: tuple, problems: Problems, index: dict, batch: Batch) -> int | None:
    if not isinstance(row, dict):
        problems.add(loc, "each entry must be an object", "dict_type")
        return None
    metric, entity, labels = row.get("metric"), row.get("entity"), row.get("labels") or {}
    ok = _name(metric, (*loc, "metric"), problems) & _name(entity, (*loc, "entity"), problems)
    if not _labels(labels, (*loc, "labels"), problems):
        ok = False
    if not ok:
        return None
    key = index.get((metric, entity))
    if key is None:
        key = index[(metric, entity)] = len(batch.keys)
        batch.keys.append((metric, entity, labels))
    elif labels:
        batch.keys[key] = (metric, entity, labels)  # the latest labels win
    return key


def _name(value: Any, loc: tuple, problems: Problems) -> bool:
    if isinstance(value, str) and 0 < len(value) <= NAME and "\x00" not in value:
        return True
    problems.add(loc, f"must be a non-empty string of at most {NAME} characters", "string_type")
    return False


def _labels(labels: Any, loc: tuple, problems: Problems) -> bool:
    """Labels as shared.limits.Labels checks them, named the same way."""
    if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        problems.add(loc, "labels must map strings to strings", "dict_type")
        return False
    ok = len(labels) <= MAP_KEYS
    if not ok:
        problems.add(loc, f"at most {MAP_KEYS} keys", "too_long",
                     field_type="Dictionary", max_length=MAP_KEYS)
    for key, value in labels.items():
        if not 0 < len(key) <= MAP_KEY:
            ok = False
            kind, ctx = (("string_too_long", {"max_length": MAP_KEY}) if key
                         else ("string_too_short", {"min_length": 1}))
            problems.add((*loc, key, "[key]"), f"a key has 1 to {MAP_KEY} characters", kind, **ctx)
        if len(value) > LABEL_VALUE:
            ok = False
            problems.add((*loc, key), f"at most {LABEL_VALUE} characters", "string_too_long",
                         max_length=LABEL_VALUE)
    return ok


def _value(value: Any, loc: tuple, problems: Problems) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value := _float(value)):
            return value
        problems.add(loc, "must be a finite number (NaN and infinity are refused)", "finite_number")
    else:
        problems.add(loc, "must be a number", "float_type")
    return None


def _float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer past float range
        return math.inf


def _time(value: Any, loc: tuple, now: float, problems: Problems) -> float | None:
    if value is None:
        return now
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(_float(value)):
        ts = float(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            problems.add(loc, "must be epoch seconds or ISO 8601 with a time zone", "datetime_parsing")
            return None
        if parsed.tzinfo is None:
            problems.add(loc, "must carry a time zone (e.g. +08:00 or Z)", "timezone_aware")
            return None
        ts = parsed.timestamp()
    else:
        problems.add(loc, "must be epoch seconds or ISO 8601 with a time zone", "datetime_type")
        return None
    if ts > now + FUTURE_TOLERANCE:
        problems.add(loc, f"lies {ts - now:.0f}s in the future; check the sender's clock "
                          f"(at most {FUTURE_TOLERANCE:.0f}s ahead is accepted)", "future")
        return None
    return ts
