"""Structural checks of the rule language that need no catalogue: bounds that can never hold,
band order and overlap, named-condition refs and cycles. Raise ValueError saying why."""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .spec import Condition

INF = math.inf


class Span(NamedTuple):
    lo: float
    lo_closed: bool
    hi: float
    hi_closed: bool

    def empty(self) -> bool:
        return self.lo > self.hi or (self.lo == self.hi and not (self.lo_closed and self.hi_closed))

    def __str__(self) -> str:
        return f"{'[' if self.lo_closed else '('}{self.lo:g}, {self.hi:g}{']' if self.hi_closed else ')'}"


def spans_of(kind: str, bound: Any) -> list[Span]:
    """The values a scalar bound lets through, as disjoint spans."""
    if kind == "above":
        return [Span(bound, False, INF, False)]
    if kind == "at_least":
        return [Span(bound, True, INF, False)]
    if kind == "below":
        return [Span(-INF, False, bound, False)]
    if kind == "at_most":
        return [Span(-INF, False, bound, True)]
    lo, hi = bound
    if kind == "between":
        return [Span(lo, True, hi, True)]
    return [Span(-INF, False, lo, False), Span(hi, False, INF, False)]  # outside


def _meet(a: Span, b: Span) -> Span:
    lo, lo_closed = max((a.lo, not a.lo_closed), (b.lo, not b.lo_closed))
    hi, hi_closed = min((a.hi, a.hi_closed), (b.hi, b.hi_closed))
    return Span(lo, not lo_closed, hi, hi_closed)


def intersect(a: list[Span], b: list[Span]) -> list[Span]:
    return [s for x in a for y in b if not (s := _meet(x, y)).empty()]


def feasible(bounds: Mapping[str, Any]) -> list[Span]:
    """Values that satisfy every (scalar) bound at once."""
    result = [Span(-INF, False, INF, False)]
    for kind, bound in bounds.items():
        result = intersect(result, spans_of(kind, bound))
    return result


def describe_bounds(bounds: Mapping[str, Any]) -> str:
    def one(kind: str, bound: Any) -> str:
        if isinstance(bound, tuple | list):
            return f"{kind} [{bound[0]:g}, {bound[1]:g}]"
        return f"{kind} {bound:g}"
    return " & ".join(one(k, b) for k, b in bounds.items())


def check_bounds(bounds: Mapping[str, Any]) -> None:
    """Refuse lo > hi and bounds on one measure that can never all hold (per class if graded)."""
    for kind in ("between", "outside"):
        if kind in bounds and bounds[kind][0] > bounds[kind][1]:
            lo, hi = bounds[kind]
            raise ValueError(f"{kind} [{lo:g}, {hi:g}]: lo {lo:g} is greater than hi {hi:g}; "
                             f"write [{hi:g}, {lo:g}]")
    for label, scalars in _per_class(bounds):
        if len(scalars) > 1 and not feasible(scalars):
            where = f" for class '{label}'" if label else ""
            raise ValueError(f"bounds {describe_bounds(scalars)} can never all hold{where}; "
                             "loosen one of them")


def _per_class(bounds: Mapping[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    graded = {k: b for k, b in bounds.items() if hasattr(b, "classes")}
    if not graded:
        return [(None, dict(bounds))]
    by = {b.by for b in graded.values()}
    classes = set().union(*(b.classes for b in graded.values())) if len(by) == 1 else {"*"}
    result = []
    for label in sorted(classes):
        scalars = {k: (b.for_class(label) if k in graded else b) for k, b in bounds.items()}
        if all(v is not None for v in scalars.values()):  # a class with no value is not evaluated
            result.append((label, scalars))
    return result


# -- named conditions ------------------------------------------------------------------------
def refs_in(condition: Condition) -> list[str]:
    found = [condition.ref] if condition.ref is not None else []
    for child in condition.children:
        found += refs_in(child)
    return found


def check_refs(named: Mapping[str, Condition], triggers: list[tuple[str, Condition]]) -> None:
    """Every ref names a condition, refs form no cycle, and a ref with a bound names a measure."""
    everywhere = [(f"conditions.{n}", c) for n, c in named.items()] + triggers
    for path, condition in everywhere:
        for ref in refs_in(condition):
            if ref not in named:
                known = ", ".join(sorted(named)) or "none are declared under `conditions:`"
                raise ValueError(f"{path}: ref '{ref}' names no condition; named conditions: {known}")
    _check_cycles(named)
    for path, condition in everywhere:
        _check_bounded_refs(condition, named, path)


def _check_cycles(named: Mapping[str, Condition]) -> None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise ValueError("conditions form a cycle: " + " → ".join(cycle))
        if state.get(name) == 2:
            return
        state[name] = 1
        for ref in refs_in(named[name]):
            visit(ref, path + [name])
        state[name] = 2

    for name in named:
        visit(name, [])


def _check_bounded_refs(condition: Condition, named: Mapping[str, Condition], path: str) -> None:
    if condition.ref is not None and condition.bounds and resolve_leaf(condition, named) is None:
        raise ValueError(f"{path}: ref '{condition.ref}' has its own bound, so it must name a "
                         "measure condition, not a combination (all/any/not)")
    for child in condition.children:
        _check_bounded_refs(child, named, path)


def check_bounded(named: Mapping[str, Condition], triggers: list[tuple[str, Condition]]) -> None:
    """Every measure a rule evaluates has a bound, its own or the one its ref gives it.
    A named condition may leave the bound to the refs that use it."""
    def walk(condition: Condition, path: str) -> None:
        leaf = resolve_leaf(condition, named)
        if leaf is None and condition.ref is not None:
            walk(named[condition.ref], path)
        elif leaf is not None and leaf.measure not in ("missing", "adaptive") and not leaf.bounds:
            how = f"ref '{condition.ref}' names" if condition.ref else "it is"
            raise ValueError(f"{path}: {how} measure '{leaf.measure}' without a bound; give "
                             "one of above, at_least, below, at_most, between, outside")
        for i, child in enumerate(condition.children):
            walk(child, f"{path}.{_child_key(condition)}" + (f"[{i}]" if condition.not_ is None else ""))

    for path, condition in triggers:
        walk(condition, path)


def _child_key(condition: Condition) -> str:
    return "all" if condition.all else "any" if condition.any else "not"


def resolve_leaf(condition: Condition, named: Mapping[str, Condition]) -> Condition | None:
    """The measure condition a leaf or ref stands for, with the ref's own bound applied."""
    if condition.measure is not None:
        return condition
    if condition.ref is None:
        return None
    target = resolve_leaf(named[condition.ref], named)
    if target is None or not condition.bounds:
        return target
    return target.model_copy(update={**{b: None for b in target.bounds}, **condition.bounds})


def measure_key(leaf: Condition) -> str:
    """Identity of a measure: its kind and parameters (leaves with equal keys share state)."""
    kind = leaf.measure
    return kind + json.dumps(getattr(leaf, kind).model_dump(mode="json"), sort_keys=True)


# -- bands ---------------------------------------------------------------------------------
def check_bands(bands: list[tuple[str, Condition]], named: Mapping[str, Condition]) -> None:
    levels = [level for level, _ in bands]
    for level in levels:
        if levels.count(level) > 1:
            raise ValueError(f"band level {level} appears twice; each level has one band")
    for before, after in zip(levels, levels[1:]):
        if before > after:
            raise ValueError(f"bands go most severe first (P0 before P1 …): {after} comes "
                             f"after {before}")
    single = [(lvl, leaf) for lvl, c in bands if (leaf := resolve_leaf(c, named)) is not None]
    for i, (level_a, a) in enumerate(single):
        for level_b, b in single[i + 1:]:
            _check_overlap(level_a, a, level_b, b)


def _check_overlap(level_a: str, a: Condition, level_b: str, b: Condition) -> None:
    if measure_key(a) != measure_key(b):
        return
    if any(hasattr(v, "classes") for v in (*a.bounds.values(), *b.bounds.values())):
        return  # graded bands may legitimately share values across classes
    common = intersect(feasible(a.bounds), feasible(b.bounds))
    if common:
        raise ValueError(f"bands {level_a} ({describe_bounds(a.bounds)}) and {level_b} "
                         f"({describe_bounds(b.bounds)}) overlap on the same {a.measure} measure "
                         f"at {common[0]}; make their ranges disjoint")
