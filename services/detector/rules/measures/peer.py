"""Peer groups: how far an entity sits from the other series of its group in the same interval."""
from __future__ import annotations

import numpy as np

from .base import NAN, NEVER, Measure, Round, Slots, standardise


class Peer(Measure):
    """Each slot's latest (value, bucket). Group statistics are taken once per batch, after
    the batch's latest values are in, so all samples of an interval see each other."""
    kind = "peer"

    def __init__(self, spec, interval):
        super().__init__(spec, interval)
        self.state = Slots(latest=(np.float64, NAN), bucket=(np.int64, NEVER))
        self.codes: dict[str, int] = {}
        self.group = np.full(0, -1, dtype=np.int64)  # per series: code of its group label
        self.m = np.empty(0)

    def grow(self, slots: int, series: int) -> None:
        super().grow(slots, series)
        if series > len(self.group):
            fresh = np.full(max(series, 2 * len(self.group), 64), -1, dtype=np.int64)
            fresh[:len(self.group)] = self.group
            self.group = fresh

    def observe(self, sid: int, labels: dict[str, str]) -> None:
        value = labels.get(self.spec.group_by)
        self.group[sid] = -1 if value is None else self.codes.setdefault(value, len(self.codes))

    def prepare(self, batch) -> None:
        latest, stamp = self.state["latest"], self.state["bucket"]
        for r in batch.rounds:  # in round order: each slot ends at its latest sample
            latest[batch.slots[r]] = batch.values[r]
            stamp[batch.slots[r]] = batch.bucket[r]
        buckets = np.unique(batch.bucket)
        members = np.flatnonzero(np.isin(stamp[:batch.n_slots], buckets))
        groups = self.group[batch.slot_series[members]]
        members, groups = members[groups >= 0], groups[groups >= 0]
        keys = groups * len(buckets) + np.searchsorted(buckets, stamp[members])
        unique, inverse = np.unique(keys, return_inverse=True)
        x = latest[members]
        count = np.bincount(inverse).astype(np.float64)
        mean = np.bincount(inverse, x) / np.maximum(count, 1)
        m2 = np.bincount(inverse, np.square(x - mean[inverse]))
        self.m = self._score(batch, buckets, unique, count, mean, m2)

    def _score(self, batch, buckets, unique, count, mean, m2) -> np.ndarray:
        latest, stamp = self.state["latest"], self.state["bucket"]
        group = self.group[batch.series]
        keys = group * len(buckets) + np.searchsorted(buckets, batch.bucket)
        if len(unique) == 0:
            return np.full(len(keys), NAN)
        at = np.minimum(np.searchsorted(unique, keys), len(unique) - 1)
        found = (group >= 0) & (unique[at] == keys)
        n, mu, sq = (np.where(found, a[at], 0.0) for a in (count, mean, m2))
        # The entity is in its group's statistics when its latest sample is in this interval.
        own = found & (stamp[batch.slots] == batch.bucket)
        x = latest[batch.slots]
        n_peers = n - own
        safe = np.maximum(n_peers, 1)
        mu_peers = np.where(own, (n * mu - x) / safe, mu)
        sq_peers = np.maximum(np.where(own, sq - (x - mu) * (x - mu_peers), sq), 0.0)
        diff = batch.values - mu_peers
        if self.spec.unit == "pct":  # percent of the peers' mean; unknown over a zero mean
            size = np.abs(mu_peers)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where(size > 0, diff / size * 100.0, NAN)
        else:
            z = standardise(diff, np.sqrt(sq_peers / safe), mu_peers)
        return np.where(found & (n_peers >= self.spec.min_peers), z, NAN)

    def compute(self, rnd: Round) -> np.ndarray:
        return rnd.unknown() if rnd.clock else self.m[rnd.pos]

    @property
    def series_bytes(self) -> int:
        return self.group.nbytes

    def describe(self, m: float) -> str:
        if self.spec.unit == "pct":
            return f"{m:+.1f}% from its peers' mean by {self.spec.group_by}"
        return f"{m:+.2f}σ from its peers by {self.spec.group_by}"
