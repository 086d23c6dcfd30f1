"""The samples of an alert's series around the moment it fired, with the bounds it was judged
against: what a chart of "the metric around the alert" needs (the console draws it)."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from shared.auth import Role, require
from shared.errors import NotFound
from shared.http import runtime_of

router = APIRouter(prefix="/v1", tags=["detector"])
DAY = 86400.0
MAX_POINTS = 5000  # a chart shows no more; the nearest ones to the alert are kept

ALERT = """SELECT a.*, r.metric, r.definition FROM alerts a
           LEFT JOIN rules r ON r.id::text = a.rule_id WHERE a.fingerprint = $1"""
# The points nearest the alert on either side, then back into time order.
SAMPLES = """SELECT ts, value FROM (
               (SELECT ts, value FROM samples WHERE series_id = $1 AND ts >= $2 AND ts < $3
                ORDER BY ts DESC LIMIT $5)
               UNION ALL
               (SELECT ts, value FROM samples WHERE series_id = $1 AND ts >= $3 AND ts <= $4
                ORDER BY ts LIMIT $5)) s ORDER BY ts"""


class SamplePoint(BaseModel):
    at: datetime
    value: float


class AlertSamples(BaseModel):
    fingerprint: str
    alert_id: str
    name: str
    entity: str
    status: str
    metric: str | None = Field(description="none for an alert that came from outside (no rule)")
    started_at: datetime | None
    resolved_at: datetime | None
    value: float | None = Field(description="its latest value: the one that fired it while "
                                "firing, the recovered one once resolved")
    threshold: float | None = Field(description="the bound it crossed, as the alert stated it")
    bounds: dict[str, Any] = Field(description="the rule's numeric bounds on the value "
                                   "(above, at_least, below, at_most, between, outside): a "
                                   "line or a band to draw; empty for other measures")
    samples: list[SamplePoint] = Field(description="oldest first")


def plain_bounds(definition: dict[str, Any] | None, severity: str) -> dict[str, Any]:
    """Numeric bounds of a rule whose condition is the plain value (for a banded rule, the
    band of the alert's severity); other measures (change, deviation …) are not on the
    metric's own scale, so nothing is drawn for them."""
    if not definition:
        return {}
    when = definition.get("when")
    for band in definition.get("bands") or []:
        if band.get("level") == severity:
            when = band.get("when")
    if not isinstance(when, dict) or "value" not in when:
        return {}
    return {k: v for k, v in when.items() if k in ("above", "at_least", "below", "at_most",
                                                  "between", "outside")
            and (isinstance(v, (int, float)) or isinstance(v, (list, tuple)))}


@router.get("/alerts/{fingerprint:path}/samples", response_model=AlertSamples,
            dependencies=[Depends(require(Role.VIEWER))],
            summary="The metric's samples around an alert, with the bounds it crossed")
async def alert_samples(request: Request, fingerprint: str,
                        before: float = Query(DAY, gt=0, le=35 * DAY,
                                              description="seconds before it fired"),
                        after: float = Query(DAY, gt=0, le=35 * DAY,
                                             description="seconds after it fired (or since, "
                                                         "while it fires)"),
                        ) -> dict[str, Any]:
    async with runtime_of(request).pool.acquire() as conn:
        alert = await conn.fetchrow(ALERT, fingerprint)
        if alert is None:
            raise NotFound(f"no alert has fingerprint {fingerprint!r}: see GET /v1/alerts"
                           "?status=all", field="fingerprint")
        fired = alert["started_at"] or alert["updated_at"]
        points: list[Any] = []
        if alert["metric"]:
            series = await conn.fetchval("SELECT id FROM series WHERE metric = $1 AND "
                                         "entity = $2", alert["metric"], alert["entity"])
            if series is not None:
                at = fired.timestamp()
                points = await conn.fetch(SAMPLES, series, at - before, at, at + after,
                                          MAX_POINTS // 2)
    definition = alert["definition"]
    if isinstance(definition, str):
        definition = json.loads(definition)
    return {**{k: alert[k] for k in ("fingerprint", "alert_id", "name", "entity", "status",
                                     "metric", "started_at", "resolved_at", "value",
                                     "threshold")},
            "bounds": plain_bounds(definition, alert["severity"]),
            "samples": [{"at": datetime.fromtimestamp(p["ts"], timezone.utc),
                         "value": p["value"]} for p in points]}
