"""The watched samples as columns, read from the sample tuples in one pass each: series id,
time and value, and the stable time order (numpy's argsort instead of a Python sort)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from operator import eq, itemgetter
from typing import Any, NamedTuple

import numpy as np


class Columns(NamedTuple):
    keys: list[tuple[str, str]]   # (metric, entity) per series id, in order of first row given
    labels: list[Mapping[str, str]]   # each series' labels on its first row given
    series: np.ndarray            # series id per row, as given
    ts: np.ndarray
    values: np.ndarray
    order: np.ndarray             # the rows' stable time order
    first_in_time: np.ndarray     # per series id: its rank by first appearance in time order


def columns(rows: Sequence[Any]) -> Columns:
    # map/itemgetter rather than generator expressions: the per-row steps stay in C.
    n = len(rows)
    keys = list(map(itemgetter(0, 1), rows))
    ids = {key: sid for sid, key in enumerate(dict.fromkeys(keys))}
    series = (np.zeros(n, dtype=np.int64) if len(ids) <= 1 else
              np.fromiter(map(ids.__getitem__, keys), dtype=np.int64, count=n))
    ts = np.fromiter(map(itemgetter(3), rows), dtype=np.float64, count=n)
    values = np.fromiter(map(itemgetter(4), rows), dtype=np.float64, count=n)
    if np.isnan(ts).any():   # where NaN lands is Python's sort's choice: keep it
        order = np.array(sorted(range(n), key=lambda i: rows[i][3]), dtype=np.int64)
    elif n < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        order = np.arange(n)
    else:
        order = np.argsort(ts, kind="stable")
    _, firsts = np.unique(series, return_index=True)
    labels = [rows[i][2] for i in firsts.tolist()]
    first_in_time = np.empty(len(ids), dtype=np.int64)
    ordered = series[order]
    seen, at = np.unique(ordered, return_index=True)
    first_in_time[seen[np.argsort(at)]] = np.arange(len(seen))
    return Columns(list(ids), labels, series, ts, values, order, first_in_time)


def same_labels(rows: Sequence[Any], columns: Columns) -> bool:
    """Every row carries its series' first labels (else graded bounds change on the way)."""
    given = map(itemgetter(2), rows)
    if len(columns.labels) == 1:
        return all(map(eq, given, repeat(columns.labels[0])))
    return all(map(eq, given, map(columns.labels.__getitem__, columns.series.tolist())))
