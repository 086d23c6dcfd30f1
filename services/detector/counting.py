"""Counted events (docs/rules.md, Counted events): one record each (a complaint, a late
delivery) posted to POST /v1/events and counted per entity in tumbling windows of its counted
metric. Each event becomes a sample of that metric whose value is the count so far in its
window, so ordinary rules compare counts ("≥ 5 complaints a day for large stores"). The
running count is the series' latest stored sample: nothing else to keep or rebuild."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, Field

from shared.limits import MANY, Labels, Name

from services.detector.ingest import FUTURE_TOLERANCE, Batch
from services.detector.rules import MetricSpec, parse_duration

# Two events of one entity at the same instant (or a late one within its window) are both
# counted: the sample of the later one is put this far after the series' latest.
NUDGE = 0.001


class CountedEvent(BaseModel):
    kind: Name = Field(description="a counted metric's name", examples=["store.complaints"])
    entity: Name = Field(examples=["store-042"])
    at: AwareDatetime | None = Field(None, description="when it happened; default now")
    attributes: Labels = Field(default_factory=dict, examples=[{"size": "large"}],
                               description="become the series' labels (rules match and "
                                           "grade by them); the latest sent win")


class EventBatch(BaseModel):
    events: list[CountedEvent] = Field(min_length=1, max_length=MANY)


def check_kinds(batch: EventBatch, catalogue: dict[str, MetricSpec],
                now: float) -> dict[str, MetricSpec]:
    """The counted metrics the events name; refuses the whole batch (422, each field named)
    for an unknown kind or a time ahead of the clock."""
    errors = []
    for i, event in enumerate(batch.events):
        spec = catalogue.get(event.kind)
        if spec is None or spec.count is None:
            counted = sorted(name for name, m in catalogue.items() if m.count) or ["none yet"]
            errors.append({"loc": ("body", "events", i, "kind"), "type": "counted_metric_name",
                           "msg": f"'{event.kind}' is not a counted metric; declare it with "
                                  f"`count: {{window: 1d}}` (counted metrics: "
                                  f"{', '.join(counted[:10])})"})
        if event.at is not None and event.at.timestamp() > now + FUTURE_TOLERANCE:
            errors.append({"loc": ("body", "events", i, "at"), "type": "time_not_in_the_future",
                           "msg": f"lies in the future; check the sender's clock (at most "
                                  f"{FUTURE_TOLERANCE:.0f}s ahead is accepted)"})
    if errors:
        raise RequestValidationError(errors)
    return {e.kind: catalogue[e.kind] for e in batch.events}


def counted_batch(batch: EventBatch, metrics: dict[str, MetricSpec],
                  latest: dict[tuple[str, str], tuple[float, float]],
                  now: float) -> tuple[Batch, list[int], list[dict]]:
    """The samples the events make, the event index of each sample, and the events refused:
    one whose window ended before the series' latest sample (`window_closed`)."""
    order = sorted(range(len(batch.events)),
                   key=lambda i: _ts(batch.events[i], now))  # stable: same instant, sent order
    out, origin, refused = Batch(), [], []
    keys: dict[tuple[str, str], int] = {}
    running = {key: (_window(metrics[key[0]], ts), value, ts)
               for key, (ts, value) in latest.items() if key[0] in metrics}
    for i in order:
        event = batch.events[i]
        key, ts = (event.kind, event.entity), _ts(event, now)
        window = _window(metrics[event.kind], ts)
        previous = running.get(key)
        if previous is not None and window < previous[0]:
            refused.append({"index": i, "reason": "window_closed"})
            continue
        if previous is not None and window == previous[0]:
            count, ts = previous[1] + 1, max(ts, previous[2] + NUDGE)
        else:
            count = 1.0
        running[key] = (window, count, ts)
        if key not in keys:
            keys[key] = len(out.keys)
            out.keys.append((*key, dict(event.attributes)))
        elif event.attributes:
            out.keys[keys[key]] = (*key, dict(event.attributes))
        out.key_of.append(keys[key]), out.ts.append(ts), out.values.append(count)
        origin.append(i)
    return out, origin, refused


def rollovers(metrics: dict[str, MetricSpec], latest: dict[tuple[str, str], tuple[float, float]],
              now: float) -> Batch:
    """A count of 0 at the start of the next window for each series whose window has ended
    with a count: without it a rule on counts would only calm down at the entity's next
    event, however many quiet days came first. Called by the clock (workers.py)."""
    out = Batch()
    for (metric, entity), (ts, value) in latest.items():
        spec = metrics.get(metric)
        if spec is None or spec.count is None or value <= 0:
            continue
        window = _window(spec, ts)
        if _window(spec, now) > window:
            out.keys.append((metric, entity, {}))  # no labels: the series keeps its own
            out.key_of.append(len(out.keys) - 1)
            out.ts.append(max(_start(spec, window + 1, ts), ts + NUDGE))
            out.values.append(0.0)
    return out


def _ts(event: CountedEvent, now: float) -> float:
    return event.at.timestamp() if event.at is not None else now


def _window(metric: MetricSpec, ts: float) -> int:
    """Which window `ts` falls in: windows start at multiples of the window length in the
    metric's time zone (a 1d window starts at local midnight)."""
    assert metric.count is not None
    return math.floor((ts + _offset(metric, ts)) / parse_duration(metric.count.window))


def _start(metric: MetricSpec, window: int, near: float) -> float:
    """When `window` begins, in the zone's offset at `near`."""
    assert metric.count is not None
    return window * parse_duration(metric.count.window) - _offset(metric, near)


def _offset(metric: MetricSpec, ts: float) -> float:
    assert metric.count is not None
    offset = datetime.fromtimestamp(ts, _zone(metric.count.time_zone)).utcoffset()
    return offset.total_seconds() if offset else 0.0


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo | timezone:
    return timezone.utc if name == "UTC" else ZoneInfo(name)
