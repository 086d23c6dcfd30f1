"""One backtest from start to end: the replay, its scores and an optional sweep, with the
progress totals known before the first sample (the CLI and the service both run this)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .chart import series_points, windows_json
from .lead_time import predictions
from .model import Window
from .progress import Progress
from .replay import Prepared, Sample, replay
from .scoring import score
from .sweep import plan, sweep

if TYPE_CHECKING:
    from ..spec import MetricSpec, RuleSpec


class SweepAsk(NamedTuple):
    path: str | None = None
    candidates: Sequence[float] | None = None
    max_false_positive_rate: float = 0.2
    max_miss_rate: float = 0.05


def backtest(rule: RuleSpec, samples: Iterable[Sample], windows: Sequence[Window],
             metric: MetricSpec | None = None, ask: SweepAsk | None = None,
             progress: Progress | None = None, points: int = 0) -> dict[str, Any]:
    """{replay, scores, sweep, windows, labelled_windows, predictions, series}: `series`
    (the replayed samples, at most `points` per entity) only when `points` > 0.
    ValueError names a bad sweep path; Cancelled when the progress' flag is set."""
    progress = progress or Progress()
    prepared = Prepared(rule, samples)
    n = len(prepared.rows)
    path, values = plan(rule, prepared, ask.path, ask.candidates) if ask else (None, [])
    progress.expect(n * (1 + len(values)), len(values))
    result = replay(rule, prepared, metric, progress=progress)
    swept = None
    if ask is not None:
        swept = sweep(rule, prepared, windows, path=path, candidates=values,
                      max_false_positive_rate=ask.max_false_positive_rate,
                      max_miss_rate=ask.max_miss_rate, metric=metric,
                      progress=progress).to_json()
    chart = (series_points(prepared.rows, points, {a.entity for a in result.alerts})
             if points else None)
    return {"replay": result.to_json(), "scores": score(result, windows).to_json(),
            "sweep": swept, "windows": len(windows), "labelled_windows": windows_json(windows),
            "series": chart,
            # predict rules: lead times and false warnings (empty for other rules)
            "predictions": predictions(rule, result, prepared.given)}
