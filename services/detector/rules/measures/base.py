"""What every measure shares: per-slot state columns grown by doubling, the round of samples
a measure sees, and the σ-distance rule for flat histories."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

NAN = np.nan
NEVER = np.iinfo(np.int64).min // 2  # bucket stamp of an empty ring cell


class Slots:
    """Per-slot state columns of one part of a rule, grown together by doubling."""

    def __init__(self, **columns: tuple[Any, Any] | tuple[Any, Any, int]) -> None:
        self._spec = {name: (np.dtype(c[0]), c[1], c[2] if len(c) > 2 else None)
                      for name, c in columns.items()}
        self.capacity = 0
        self.columns: dict[str, np.ndarray] = {}
        self._allocate(0)

    def _allocate(self, capacity: int) -> None:
        for name, (dtype, fill, width) in self._spec.items():
            shape = (capacity, width) if width else (capacity,)
            fresh = np.full(shape, fill, dtype=dtype)
            old = self.columns.get(name)
            if old is not None:
                fresh[:len(old)] = old
            self.columns[name] = fresh
        self.capacity = capacity

    def ensure(self, n: int) -> None:
        if n > self.capacity:
            self._allocate(max(n, 2 * self.capacity, 64))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    @property
    def bytes_per_slot(self) -> int:
        return sum(d.itemsize * (w or 1) for d, _, w in self._spec.values())


@dataclass(slots=True)
class Round:
    """At most one sample per series: what one vectorised evaluation step sees."""
    pos: np.ndarray           # indices into the rule's batch (for batch-level measures)
    slots: np.ndarray         # rule-local slots
    series: np.ndarray        # series ids
    ts: np.ndarray
    values: np.ndarray
    bucket: np.ndarray | None  # floor(ts / interval) when the rule has an interval
    now: float | None = None  # set on clock rounds: only `missing` is known then

    @property
    def clock(self) -> bool:
        return self.now is not None

    def unknown(self) -> np.ndarray:
        return np.full(len(self.slots), NAN)


class Measure:
    """One measure of one rule: state per slot, a value per sample (NaN = not known)."""
    kind = ""

    def __init__(self, spec: Any, interval: float | None) -> None:
        self.spec, self.interval = spec, interval
        self.state = Slots()

    def grow(self, slots: int, series: int) -> None:
        self.state.ensure(slots)

    def observe(self, sid: int, labels: dict[str, str]) -> None:
        """A series' labels became known or changed."""

    def prepare(self, batch: Any) -> None:
        """Batch-level step before the rounds (peer groups)."""

    def compute(self, rnd: Round) -> np.ndarray:
        raise NotImplementedError

    def describe(self, m: float) -> str:
        return f"{self.kind} {m:.3g}"

    @property
    def bytes_per_slot(self) -> int:
        return self.state.bytes_per_slot

    @property
    def series_bytes(self) -> int:
        """Bytes kept per registered series (not per slot), e.g. label codes."""
        return 0


def rows(table: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """table[slots], without a copy when the slots are simply 0..k-1 (a common batch)."""
    k = len(slots)
    if k and slots[0] == 0 and slots[-1] == k - 1 and k <= len(table) and \
            (k < 2 or np.all(np.diff(slots) == 1)):
        return table[:k]
    return table[slots]


def standardise(diff: np.ndarray, sigma: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """diff / sigma; a flat history (σ = 0) gives 0 when the value equals it, else unknown.
    A relative tolerance keeps rounding noise from passing for spread."""
    tol = 1e-9 * np.abs(centre)
    flat = sigma <= tol
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / sigma
    return np.where(flat, np.where(np.abs(diff) <= tol, 0.0, NAN), z)
