"""What a chart of a backtest needs besides the scores: the replayed series, thinned to a
number of points per entity, and the labelled windows the alerts were scored against."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .model import Window
from .replay import Sample

MAX_ENTITIES = 20  # a chart of more lines reads as noise; entities with alerts come first


def series_points(rows: Sequence[Sample], points: int,
                  alerted: set[str] = frozenset()) -> list[dict[str, Any]]:
    """Per entity (time-ordered rows in): `total` samples and at most `points` [t, value]
    pairs. Thinning keeps each bucket's lowest and highest sample, in time order, so a spike
    or a dip a rule fired on stays on the chart (a plain every-k-th pick can drop it)."""
    by_entity: dict[str, tuple[list[float], list[float]]] = {}
    for _, entity, _, t, v in rows:
        ts, vs = by_entity.setdefault(entity, ([], []))
        ts.append(t)
        vs.append(v)
    chosen = sorted(by_entity, key=lambda e: (e not in alerted, e))[:MAX_ENTITIES]
    return [{"entity": e, "total": len(by_entity[e][0]),
             "points": thin(*by_entity[e], points)} for e in chosen]


def thin(ts: list[float], vs: list[float], points: int) -> list[list[float | None]]:
    if len(ts) <= points:
        keep = range(len(ts))
    else:
        values = np.asarray(vs, dtype=float)
        filled = np.where(np.isnan(values), np.nanmean(values) if len(values) else 0, values)
        edges = np.linspace(0, len(ts), max(points // 2, 1) + 1).astype(int)
        keep = sorted({int(i) for lo, hi in zip(edges[:-1], edges[1:]) if hi > lo
                       for i in (lo + filled[lo:hi].argmin(), lo + filled[lo:hi].argmax())})
    return [[ts[i], None if math.isnan(vs[i]) else vs[i]] for i in keep]


def windows_json(windows: Sequence[Window]) -> list[dict[str, Any]]:
    return [{"start": w.start, "end": w.end, "entity": w.entity} for w in windows]
