"""How a predictive rule's warnings held up in a replay: for each warning, whether the metric
really crossed the bound within the horizon and how long before; real crossings nobody warned
of. The truth comes from the history itself, so no labelled windows are needed."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from ..catalogue import PredictShape, leaves
from ..conditions import _COMPARE
from ..durations import parse_duration
from .model import AlertSpan, Replay
from .scoring import delay_stats


def predictions(rule: Any, result: Replay, samples: Sequence[Any]) -> list[dict[str, Any]]:
    """One report per `predict` condition of the rule (none for other rules)."""
    reports = []
    for path, leaf in leaves(rule):
        if leaf.measure != "predict":
            continue
        (kind, bound), = leaf.bounds.items()
        horizon = parse_duration(leaf.predict.horizon)
        series: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        for s in sorted(samples, key=lambda s: s[3]):
            if s[0] == rule.metric and all(s[2].get(k) == v for k, v in rule.match.items()):
                level = _level(bound, s[2])
                if level is not None:
                    series[s[1]].append((s[3], bool(_COMPARE[kind](s[4], level))))
        reports.append({"path": f"{path}.predict", "horizon_seconds": horizon,
                        **_judge(result.alerts, series, horizon),
                        "notes": _short(f"{path}.predict", leaf.predict, series, result)})
    return reports


def _short(path: str, spec: Any, series: Mapping[str, list], result: Replay) -> list[str]:
    """Entities with too little history for a first forecast, naming the field."""
    if not result.interval:
        return []
    need = PredictShape.of(spec, result.interval).min_samples
    return [f"{entity}: {len(points)} samples; {path} forecasts after {need} "
            f"({path}.min_samples, 2 seasons + 2 by default), so it never forecast here"
            for entity, points in series.items() if len(points) < need]


def _level(bound: Any, labels: Mapping[str, str]) -> Any:
    return bound.for_class(labels.get(bound.by)) if hasattr(bound, "classes") else bound


def _crossings(points: list[tuple[float, bool]], horizon: float) -> list[float]:
    """Times the bound was crossed: a hit after more than a horizon without one, so a value
    dithering around the bound counts as one crossing, not one per dip."""
    found, last_hit, prev = [], None, None
    for t, hit in points:
        if hit:
            if prev is not None and (last_hit is None or t - last_hit > horizon):
                found.append(t)
            last_hit = t
        prev = t
    return found


def _judge(alerts: Sequence[AlertSpan], series: Mapping[str, list[tuple[float, bool]]],
           horizon: float) -> dict[str, Any]:
    leads: list[float] = []
    false = undecided = 0
    for alert in alerts:
        points = series.get(alert.entity, [])
        ahead = [(t, hit) for t, hit in points if alert.start <= t <= alert.start + horizon]
        crossed = next((t for t, hit in ahead if hit), None)
        if crossed is not None:
            leads.append(crossed - alert.start)
        elif points and points[-1][0] < alert.start + horizon:
            undecided += 1  # the history ends before the horizon does
        else:
            false += 1
    crossings = [(entity, t) for entity, points in series.items()
                 for t in _crossings(points, horizon)]
    warned = sum(1 for entity, t in crossings
                 if any(a.entity == entity and t - horizon <= a.start <= t for a in alerts))
    return {"warnings": len(alerts), "true_warnings": len(leads), "false_warnings": false,
            "undecided_warnings": undecided, "lead_time": delay_stats(leads),
            "crossings": len(crossings), "crossings_warned": warned}


def describe(reports: Sequence[Mapping[str, Any]]) -> list[str]:
    """The reports as lines for the command line."""
    lines = []
    for r in reports:
        median_lead = r["lead_time"]["median"]
        lead = "—" if median_lead is None else f"{median_lead / 3600:.1f} h"
        lines.append(f"{r['path']}: {r['warnings']} warnings, {r['true_warnings']} true "
                     f"(median lead {lead}), {r['false_warnings']} false, "
                     f"{r['undecided_warnings']} undecided; {r['crossings_warned']} of "
                     f"{r['crossings']} crossings warned")
        lines.extend(f"note: {note}" for note in r["notes"])
    return lines
