"""Near misses (险些触发): a rule's evaluated value coming within a share of its threshold on
the safe side. capa lists such peers for 举一反三 (docs/adr/near-misses.md). Only a rule whose
one trigger is one measure against one fixed one-sided bound has a threshold to be near; a
series enters the band once and must move beyond EXIT times the band's width before it can
enter again, so a value wobbling at the band's edge is one near miss, not many."""
from __future__ import annotations

import numpy as np

from .spec import Condition, RuleSpec
from .structure import resolve_leaf

DEFAULT_SHARE = 0.10  # of the threshold's size, when a rule does not say
EXIT = 1.5  # hysteresis: leave the band only beyond 1.5 × its width
ONE_SIDED = ("above", "at_least", "below", "at_most")
UNMEASURABLE = ("missing", "predict")  # no value to be near with


def near_leaf(spec: RuleSpec) -> Condition | None:
    """The rule's one leaf with one fixed one-sided bound, or None when the rule has no single
    threshold to be near (bands, combinations, graded or two-sided bounds)."""
    if spec.when is None:
        return None
    leaf = resolve_leaf(spec.when, spec.conditions)
    if leaf is None or leaf.measure in UNMEASURABLE or len(leaf.bounds) != 1:
        return None
    (kind, bound), = leaf.bounds.items()
    if kind not in ONE_SIDED or not isinstance(bound, (int, float)) or bound == 0:
        return None
    return leaf


def check_near_miss(spec: RuleSpec) -> str | None:
    """Why a rule's `near_miss` cannot apply, or None when it can (or is not given)."""
    if not spec.near_miss or near_leaf(spec) is not None:
        return None
    return ("near_miss needs a rule whose `when` is one measure with one fixed one-sided "
            "bound (above, at_least, below or at_most, not 0): this rule has no single "
            "threshold to come near; leave near_miss out or set it to 0")


class NearBand:
    """The band below (or above) one threshold, and which slots are inside it."""

    def __init__(self, kind: str, threshold: float, share: float) -> None:
        self.kind, self.threshold, self.share = kind, float(threshold), share
        self.width = share * abs(self.threshold)
        self.inside = np.zeros(0, dtype=bool)
        self.values = np.zeros(0)  # the value each slot entered the band with
        self.since = np.zeros(0)  # and when

    @classmethod
    def of(cls, spec: RuleSpec) -> NearBand | None:
        share = DEFAULT_SHARE if spec.near_miss is None else spec.near_miss
        leaf = near_leaf(spec) if share > 0 else None
        if leaf is None:
            return None
        (kind, bound), = leaf.bounds.items()
        return cls(kind, bound, share)

    def grow(self, n: int) -> None:
        if n > len(self.inside):
            size = max(n, 2 * len(self.inside), 64)
            for name in ("inside", "values", "since"):
                old = getattr(self, name)
                grown = np.zeros(size, dtype=old.dtype)
                grown[:len(old)] = old
                setattr(self, name, grown)

    def margin(self, m: np.ndarray) -> np.ndarray:
        """How far each value is from firing, on the safe side (negative: breaching)."""
        return m - self.threshold if self.kind in ("below", "at_most") else self.threshold - m

    def step(self, slots: np.ndarray, m: np.ndarray, fails: np.ndarray,
             ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One evaluation per slot (`fails`: known and not breaching): the round positions
        that entered the band and those that left it beyond the exit."""
        margin = self.margin(m)
        near = fails & (margin <= self.width)
        far = fails & (margin > EXIT * self.width)
        was = self.inside[slots]
        entered, left = near & ~was, far & was
        self.inside[slots[entered]] = True
        self.values[slots[entered]], self.since[slots[entered]] = m[entered], ts[entered]
        self.inside[slots[left]] = False
        return np.flatnonzero(entered), np.flatnonzero(left)

    def describe(self) -> str:
        return f"within {self.share:.0%} of {self.kind} {self.threshold:g}"
