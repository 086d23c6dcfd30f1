"""Backtests inside the service: history from the sample store (or an uploaded CSV), windows
from the request or from how the rule's incidents were judged."""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi.exceptions import RequestValidationError

from services.detector.rules import MetricSpec, RuleSpec
from services.detector.rules.backtest import (Window, predictions, read_samples_csv, replay,
                                              score, sweep)
from services.detector.samples import SampleStore
from services.detector.schemas import BacktestIn

DEFAULT_SPAN = 30 * 86400.0


async def run_backtest(store: SampleStore, rule: RuleSpec, metric: MetricSpec | None,
                       body: BacktestIn, now: float, rule_id: str | None) -> dict[str, Any]:
    samples = (_csv_samples(body, rule) if body.csv is not None
               else await stored_samples(store, rule.metric, *_span(body, now)))
    windows = ([Window(w.start.timestamp(), w.end.timestamp(), w.entity) for w in body.windows]
               if body.windows is not None else await judged_windows(store, rule_id))
    return await asyncio.to_thread(_evaluate, rule, metric, samples, windows, body)


def _evaluate(rule: RuleSpec, metric: MetricSpec | None, samples: list, windows: list[Window],
              body: BacktestIn) -> dict[str, Any]:
    result = replay(rule, samples, metric)
    swept = None
    if body.sweep is not None:
        s = body.sweep
        try:
            swept = sweep(rule, samples, windows, path=s.path, candidates=s.candidates,
                          max_false_positive_rate=s.max_false_positive_rate,
                          max_miss_rate=s.max_miss_rate, metric=metric).to_json()
        except (KeyError, ValueError) as error:
            raise RequestValidationError([{"loc": ("body", "sweep", "path"), "type": "value_error",
                                           "msg": str(error)}]) from None
    return {"replay": result.to_json(), "scores": score(result, windows).to_json(),
            "sweep": swept, "windows": len(windows),
            # predict rules: lead times and false warnings (empty for other rules)
            "predictions": predictions(rule, result, samples)}


def _csv_samples(body: BacktestIn, rule: RuleSpec) -> list:
    try:
        return read_samples_csv(body.csv or "", metric=rule.metric, entity=body.entity)
    except ValueError as error:
        raise RequestValidationError([{"loc": ("body", "csv"), "type": "value_error",
                                       "msg": str(error)}]) from None


def _span(body: BacktestIn, now: float) -> tuple[float, float]:
    end = body.end.timestamp() if body.end else now
    return (body.start.timestamp() if body.start else end - DEFAULT_SPAN), end


async def stored_samples(store: SampleStore, metric: str, start: float, end: float) -> list:
    series = {r["id"]: (r["entity"], r["labels"]) for r in await store.series()
              if r["metric"] == metric}
    samples = []
    async for ids, ts, values in store.history(start, end, [metric]):
        for sid, t, v in zip(ids.tolist(), ts.tolist(), values.tolist()):
            entity, labels = series[sid]
            samples.append((metric, entity, labels, t, v))
    return samples


async def judged_windows(store: SampleStore, rule_id: str | None) -> list[Window]:
    """Alerts of this rule whose incidents were judged real, as labelled windows."""
    if rule_id is None:
        return []
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT entity, started_at, coalesce(resolved_at, at) AS ended_at
               FROM alert_verdicts WHERE rule_id = $1 AND verdict = 'confirmed'
                 AND started_at IS NOT NULL""", rule_id)
    return [Window(r["started_at"].timestamp(), r["ended_at"].timestamp(), r["entity"])
            for r in rows]

