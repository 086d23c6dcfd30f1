"""The series registry: stable int ids for (metric, entity), their latest labels, and the
latest accepted sample time per series (shared by every rule)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np


class SeriesRegistry:
    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], int] = {}
        self.metric: list[str] = []
        self.entity: list[str] = []
        self.labels: list[dict[str, str]] = []
        self.by_metric: dict[str, list[int]] = defaultdict(list)
        self.last_ts = np.full(0, -np.inf)

    def __len__(self) -> int:
        return len(self.metric)

    def upsert(self, metric: str, entity: str, labels: Mapping[str, str] | None) -> tuple[int, bool]:
        """(id, whether it is new or its labels changed)."""
        key = (metric, entity)
        sid = self.ids.get(key)
        if sid is not None:
            if labels is None or self.labels[sid] == labels:
                return sid, False
            self.labels[sid] = dict(labels)
            return sid, True
        sid = self.ids[key] = len(self.metric)
        self.metric.append(metric)
        self.entity.append(entity)
        self.labels.append(dict(labels or {}))
        self.by_metric[metric].append(sid)
        if sid >= len(self.last_ts):
            grown = np.full(max(64, 2 * len(self.last_ts)), -np.inf)
            grown[:len(self.last_ts)] = self.last_ts
            self.last_ts = grown
        return sid, True
