"""Backtests inside the service: history from the sample store (or an uploaded CSV), windows
from the request or from how the rule's incidents were judged."""
from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

from fastapi.exceptions import RequestValidationError

from services.detector.app import DetectorApplication
from services.detector.rules import MetricSpec, RuleSpec
from services.detector.rules.backtest import Window, read_samples_csv
from services.detector.rules.backtest.progress import Progress
from services.detector.rules.backtest.run import SweepAsk, backtest
from services.detector.rules.backtest.sweep import plan
from services.detector.samples import SampleStore
from services.detector.schemas import BacktestIn

DEFAULT_SPAN = 30 * 86400.0


async def run_backtest(store: SampleStore, rule: RuleSpec, metric: MetricSpec | None,
                       body: BacktestIn, now: float, rule_id: str | None,
                       progress: Progress | None = None,
                       samples: list | None = None) -> dict[str, Any]:
    """Loads the history (unless `samples` were parsed already) and runs the backtest in a
    thread; `progress` reports and cancels (jobs)."""
    if samples is None:
        samples = (_csv_samples(body, rule) if body.csv is not None
                   else await stored_samples(store, rule.metric, *_span(body, now)))
    windows = ([Window(w.start.timestamp(), w.end.timestamp(), w.entity) for w in body.windows]
               if body.windows is not None else await judged_windows(store, rule_id))
    return await asyncio.to_thread(_evaluate, rule, metric, samples, windows, body, progress)


def rule_at(app: DetectorApplication, rule_id: UUID, version: int | None) -> RuleSpec:
    """The rule as it is, or as it was at `version` (422 naming `version` when it never was)."""
    if version is None:
        return RuleSpec.model_validate(app.rule(rule_id)["definition"])
    versions = {v["version"]: v["definition"] for v in app.rule_history(rule_id)}
    if version not in versions:
        raise RequestValidationError([{
            "loc": ("body", "version"), "type": "value_error",
            "msg": f"rule {rule_id} has no version {version}; its versions are "
                   f"{', '.join(map(str, sorted(versions)))} (GET /v1/rules/{rule_id}/history)"}])
    return RuleSpec.model_validate(versions[version])


def checked(rule: RuleSpec, body: BacktestIn) -> list | None:
    """What can be refused before a job starts: the uploaded CSV (parsed, returned) and the
    sweep's path. Raises the 422 the synchronous endpoint would."""
    samples = _csv_samples(body, rule) if body.csv is not None else None
    if body.sweep is not None:
        try:
            plan(rule, [], body.sweep.path, [])
        except (KeyError, ValueError) as error:
            raise _sweep_error(error) from None
    return samples


def _evaluate(rule: RuleSpec, metric: MetricSpec | None, samples: list, windows: list[Window],
              body: BacktestIn, progress: Progress | None) -> dict[str, Any]:
    s = body.sweep
    ask = None if s is None else SweepAsk(s.path, s.candidates, s.max_false_positive_rate,
                                          s.max_miss_rate)
    try:
        return backtest(rule, samples, windows, metric, ask, progress, body.points)
    except (KeyError, ValueError) as error:
        raise _sweep_error(error) from None


def _sweep_error(error: Exception) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", "sweep", "path"), "type": "value_error",
                                    "msg": str(error)}])


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

