"""Sweeps one numeric bound of a rule over candidate values, scores each against labelled
windows and recommends the quietest setting that meets both targets."""
from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from .model import Sweep, Window
from .progress import Progress
from .replay import Prepared, Sample, replay
from .scoring import score

if TYPE_CHECKING:
    from ..spec import MetricSpec, RuleSpec

BOUND_KEYS = ("above", "at_least", "below", "at_most", "between", "outside")
MEASURES = ("value", "change", "deviation", "peer", "streak", "forecast", "adaptive", "missing")
SIGMA_MEASURES = ("deviation", "peer", "forecast")
N_CANDIDATES = 25


def sweep(rule: RuleSpec, samples: Iterable[Sample], windows: Sequence[Window], *,
          path: str | None = None, candidates: Sequence[float] | None = None,
          max_false_positive_rate: float = 0.2, max_miss_rate: float = 0.05,
          metric: MetricSpec | None = None, along_time: bool = True,
          progress: Progress | None = None) -> Sweep:
    """Replays and scores the rule once per candidate value of the bound at `path` (a dotted
    path into the rule's JSON form; default: its first numeric bound). `progress` is told
    of each candidate's samples and the candidate done (the caller sets its totals from
    `plan`); it may cancel between chunks."""
    prepared = samples if isinstance(samples, Prepared) else Prepared(rule, samples)
    form = rule.model_dump(mode="json", by_alias=True)
    path, values = plan(rule, prepared, path, candidates)
    current = _bound_at(form, path)
    rows = []
    for bound in values:
        rows.append(_row(rule, form, path, bound, current, prepared, windows, metric,
                         along_time, progress))
        if progress is not None:
            progress.candidate_done()
    recommended, reason = recommend(rows, path, max_false_positive_rate, max_miss_rate)
    return Sweep(rows, recommended, reason, path,
                 {"max_false_positive_rate": max_false_positive_rate,
                  "max_miss_rate": max_miss_rate})


def plan(rule: RuleSpec, samples: Iterable[Sample] | Prepared, path: str | None = None,
         candidates: Sequence[float] | None = None) -> tuple[str, list[float]]:
    """The bound's path and the candidate values a sweep will try (ValueError: bad path)."""
    prepared = samples if isinstance(samples, Prepared) else Prepared(rule, samples)
    form = rule.model_dump(mode="json", by_alias=True)
    path = path or _first_bound(form, rule.name)
    current = _bound_at(form, path)
    values = list(candidates) if candidates is not None else default_candidates(
        form, path, current, [s[4] for s in prepared.rows])
    return path, values


def _row(rule: RuleSpec, form: dict, path: str, bound: float, current: float,
         prepared: Prepared, windows: Sequence[Window], metric: MetricSpec | None,
         along_time: bool, progress: Progress | None) -> dict[str, Any]:
    row: dict[str, Any] = {"bound": bound, "current": bound == current}
    try:
        variant = type(rule).model_validate(with_bound(form, path, bound))
    except ValueError as error:   # pydantic's ValidationError: e.g. bands now overlap
        if progress is not None:
            progress.advance(len(prepared.rows))
        return {**row, "error": str(error)}
    result = replay(variant, prepared, metric, along_time=along_time, progress=progress)
    return {**row, **asdict(score(result, windows))}


def recommend(rows: Sequence[dict], path: str, max_fpr: float,
              max_miss: float) -> tuple[dict | None, str]:
    """The row meeting both targets with the fewest alerts per day, then the smallest mean
    delay; else None and a reason naming the unreachable target and the closest row."""
    scored = [r for r in rows if "error" not in r]
    if not scored:
        return None, ("no candidate gives a valid rule: " + rows[0]["error"] if rows
                      else "no candidates to try")
    meets_miss = [r for r in scored if _miss(r) <= max_miss]
    meets_fp = [r for r in scored if _fpr(r) <= max_fpr]
    both = [r for r in meets_miss if r in meets_fp]
    if both:
        best = min(both, key=lambda r: (r["alerts_per_day"], _delay(r)))
        return best, (f"{_label(path, best['bound'])} meets both targets ({_describe(best)}) "
                      f"with the fewest alerts per day ({best['alerts_per_day']:.3g})")
    if not meets_miss:
        best = min(scored, key=lambda r: (_miss(r), _fpr(r)))
        what = f"keeps misses under {_pct(max_miss)}"
    elif not meets_fp:
        best = min(scored, key=lambda r: (_fpr(r), _miss(r)))
        what = f"keeps false positives under {_pct(max_fpr)}"
    else:
        best = min(scored, key=lambda r: (max(0.0, _miss(r) - max_miss)
                                          + max(0.0, _fpr(r) - max_fpr), _miss(r)))
        what = (f"keeps both misses under {_pct(max_miss)} and false positives under "
                f"{_pct(max_fpr)}")
    return None, f"no setting {what}: the best is {_label(path, best['bound'])} with {_describe(best)}"


def default_candidates(form: dict, path: str, current: float,
                       values: Sequence[float]) -> list[float]:
    """~25 values: quantiles of the samples for `value`, else a spread around the current
    bound in the measure's own units (σ, streak length, score, percent)."""
    measure = measure_at(form, path)
    if measure == "value" and values:
        finite = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
        spread = np.quantile(finite, np.linspace(0.01, 0.99, N_CANDIDATES)) if finite.size else []
    elif measure == "streak":
        spread = range(1, max(6, 2 * int(current)) + 1)
    elif measure == "adaptive":
        spread = np.linspace(0.5, 0.99, N_CANDIDATES)
    elif measure in SIGMA_MEASURES:
        sign = -1.0 if current < 0 else 1.0
        spread = sign * np.linspace(0.5, max(6.0, 2 * abs(current)), N_CANDIDATES)
    elif current:
        spread = current * np.linspace(0.25, 2.5, N_CANDIDATES)
    else:
        spread = np.linspace(-1.0, 1.0, N_CANDIDATES)
    found = {_round(float(v)) for v in spread} | {current}
    return sorted(found)


def measure_at(form: dict, path: str) -> str | None:
    """The measure a bound applies to: the leaf's own measure, or its named condition's."""
    node: Any = form
    leaf = form
    for segment in path.split("."):
        if isinstance(node, dict) and segment in BOUND_KEYS:
            leaf = node
        node = _step(node, segment, path)
    for _ in range(len(form.get("conditions") or {}) + 1):   # follow ref chains, not cycles
        measure = next((m for m in MEASURES if m in leaf), None)
        if measure or "ref" not in leaf:
            return measure
        leaf = (form.get("conditions") or {}).get(leaf["ref"], {})
    return None


def with_bound(form: dict, path: str, bound: float) -> dict:
    """A copy of the rule's JSON form with the number at `path` replaced."""
    changed = copy.deepcopy(form)
    *parents, last = path.split(".")
    node = changed
    for segment in parents:
        node = _step(node, segment, path)
    node[int(last) if isinstance(node, list) else last] = bound
    return changed


def bound_paths(node: Any, prefix: str = "") -> Iterator[str]:
    """Dotted paths of every numeric bound in the rule's JSON form, in document order."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from bound_paths(item, f"{prefix}{i}.")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        here = f"{prefix}{key}"
        if key in BOUND_KEYS and _is_number(value):
            yield here
        elif key in BOUND_KEYS and isinstance(value, list):
            yield from (f"{here}.{i}" for i, v in enumerate(value) if _is_number(v))
        elif key in BOUND_KEYS and isinstance(value, dict):   # graded by class
            yield from (f"{here}.{k}" for k, v in value.items() if k != "by" and _is_number(v))
        else:
            yield from bound_paths(value, here + ".")


def _first_bound(form: dict, name: str) -> str:
    first = next(bound_paths(form), None)
    if first is None:
        raise ValueError(f"rule '{name}' has no numeric bound to sweep; give a path such as "
                         "'when.below'")
    return first


def _bound_at(form: dict, path: str) -> float:
    node: Any = form
    for segment in path.split("."):
        node = _step(node, segment, path)
    if not _is_number(node):
        raise ValueError(f"path '{path}' is not a numeric bound; bounds in this rule: "
                         + ", ".join(bound_paths(form)))
    return node


def _step(node: Any, segment: str, path: str) -> Any:
    try:
        return node[int(segment)] if isinstance(node, list) else node[segment]
    except (KeyError, IndexError, ValueError, TypeError):
        raise ValueError(f"path '{path}' does not exist in the rule (no '{segment}'); "
                         "give a dotted path such as 'when.below' or 'bands.0.when.all.1.below'") from None


def _label(path: str, bound: float) -> str:
    segments = path.split(".")
    at = max((i for i, s in enumerate(segments) if s in BOUND_KEYS), default=len(segments) - 1)
    key, rest, text = segments[at], segments[at + 1:], f"{bound:g}"
    if rest and rest[0].isdigit():
        return f"{key} [{text}, …]" if rest[0] == "0" else f"{key} […, {text}]"
    if rest:
        return f"{key} {text} for {'other classes' if rest[0] == '*' else rest[0]}"
    return f"{key} {text}"


def _describe(row: dict) -> str:
    return f"{_pct(_miss(row))} misses and {_pct(_fpr(row))} false positives"


def _miss(row: dict) -> float:
    return row["miss_rate"] or 0.0   # None: no windows, nothing to miss


def _fpr(row: dict) -> float:
    return row["false_positive_rate"] or 0.0   # None: no alerts, none of them false


def _delay(row: dict) -> float:
    mean = row["detection_delay"]["mean"]
    return math.inf if mean is None else mean


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def _round(value: float) -> float:
    """Four significant digits: candidates a person can read and type back."""
    return float(f"{value:.4g}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
