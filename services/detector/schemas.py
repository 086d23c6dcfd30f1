"""Detector API vocabulary."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, Field

from shared.limits import (
    ITEMS, MANY, URL, Annotations, Labels, LongText, Name, OptionalName,
)

from services.detector.rules import RuleSpec

AlertStatus = Literal["firing", "resolved"]
MAX_CHART_POINTS = 5000  # per entity: more than a chart's width in pixels shows nothing more


class Sample(BaseModel):
    metric: Name = Field(examples=["store.nps.daily"])
    entity: Name = Field(examples=["store-042"])
    labels: Labels = Field(default_factory=dict, examples=[{"region": "east"}])
    ts: AwareDatetime | float | None = Field(
        None, description="epoch seconds or ISO 8601 with a zone; defaults to now")
    value: float


class SeriesSamples(BaseModel):
    metric: Name
    entity: Name
    labels: Labels = Field(default_factory=dict)
    ts: list[AwareDatetime | float]
    values: list[float]


class SampleBatch(BaseModel):
    """Documents the body of POST /v1/samples; the body is parsed by services.detector.ingest."""

    samples: list[Sample] = Field(default_factory=list)
    series: list[SeriesSamples] = Field(default_factory=list)


class Rejection(BaseModel):
    index: int = Field(description="position of the sample in the batch (samples, then series)")
    reason: str = Field(description="out_of_order: at or before the series' latest sample")


class IngestResult(BaseModel):
    accepted: int
    raised: int
    resolved: int
    acknowledged: int = 0
    suppressed: int = 0
    rejected: list[Rejection] = Field(default_factory=list)


class RuleRead(BaseModel):
    id: UUID
    name: str
    metric: str
    enabled: bool
    version: int
    definition: dict[str, Any]
    changed: bool | None = Field(None, description="PUT only: whether a new version was stored")


class RuleVersion(BaseModel):
    version: int
    at: datetime
    actor: str
    definition: dict[str, Any]


class RuleEnable(BaseModel):
    enabled: bool


class RuleHealth(BaseModel):
    rule_id: str
    name: str | None
    days: int
    raised: int
    suppressed: int
    confirmed: int
    false_positive: int
    alerts_per_day: float
    false_positive_share: float | None = Field(
        description="of the judged incidents this rule opened, the share closed as false positive")
    noisy: bool = Field(description="more than half of judged alerts false, or a budget was hit")


class WindowIn(BaseModel):
    start: AwareDatetime
    end: AwareDatetime
    entity: Name | None = None


class SweepIn(BaseModel):
    path: Name | None = Field(None, description="dotted path of the bound to vary, e.g. when.below; "
                                                "default: the rule's first numeric bound")
    candidates: list[float] | None = Field(None, max_length=ITEMS)
    max_false_positive_rate: float = Field(0.2, ge=0, le=1)
    max_miss_rate: float = Field(0.05, ge=0, le=1)


class BacktestIn(BaseModel):
    start: AwareDatetime | None = Field(None, description="stored samples from; default 30 days ago")
    end: AwareDatetime | None = Field(None, description="stored samples until; default now")
    csv: str | None = Field(None, max_length=50_000_000, description=(
        "history to replay instead of stored samples: NAB's timestamp,value (give `entity`) "
        "or timestamp,entity,value[,labels]"))
    entity: Name | None = None
    windows: list[WindowIn] | None = Field(None, max_length=MANY, description=(
        "labelled anomaly windows; default: incidents this rule opened that were judged "
        "confirmed (from the alert's start to its resolve)"))
    sweep: SweepIn | None = None
    points: int = Field(0, ge=0, le=MAX_CHART_POINTS, description=(
        "also answer `series`: the replayed samples per entity (at most 20 entities), thinned "
        "to at most this many points each, keeping every bucket's lowest and highest; "
        "0: no series"))


class RuleBacktestIn(BacktestIn):
    version: int | None = Field(None, ge=1, description=(
        "replay this version of the rule (GET /v1/rules/{id}/history); default: the current"))


class DraftBacktestIn(BacktestIn):
    rule: RuleSpec


class BacktestOut(BaseModel):
    replay: dict[str, Any]
    scores: dict[str, Any] | None
    sweep: dict[str, Any] | None
    windows: int
    labelled_windows: list[dict[str, Any]] = Field([], description=(
        "the windows scored against: start, end (epoch seconds), entity (null: any)"))
    series: list[dict[str, Any]] | None = Field(None, description=(
        "when `points` was asked: per entity, `total` samples and `points` as [t, value]"))
    # Per `predict` condition: warnings, lead times, false warnings (docs/backtesting.md).
    predictions: list[dict[str, Any]] = []


class BacktestJobOut(BaseModel):
    id: str
    rule: str
    sweep: bool
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: dict[str, int] = Field(description=(
        "samples_done / samples_total over the replay and every sweep candidate; "
        "candidates_done / candidates_total"))
    cancel_requested: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    result: BacktestOut | None = Field(None, description="when done: what /backtest returns")
    error: str | None = None


class AlertRead(BaseModel):
    fingerprint: str
    alert_id: str
    source: str
    name: str
    entity: str
    severity: str
    status: str
    value: float | None = None
    threshold: float | None = None
    rule_id: str | None = None
    summary: str = ""
    started_at: datetime | None = None
    resolved_at: datetime | None = None


class AlertmanagerAlert(BaseModel):
    """One alert as Alertmanager sends it (webhook v4) or as its API v2 accepts it. Times
    without a zone are read as UTC where they are used (services.detector.alertmanager):
    a Python validator here would cost more than the rest of the alert's validation."""

    labels: Labels = Field(min_length=1)
    annotations: Annotations = Field(default_factory=dict)
    status: AlertStatus | None = None
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str | None = Field(None, max_length=URL)
    fingerprint: Name | None = None


class AlertmanagerWebhook(BaseModel):
    version: OptionalName = "4"
    status: AlertStatus | None = None
    receiver: OptionalName | None = None
    groupKey: LongText | None = None
    alerts: list[AlertmanagerAlert] = Field(max_length=MANY)
    groupLabels: Labels = Field(default_factory=dict)
    commonLabels: Labels = Field(default_factory=dict)
    commonAnnotations: Annotations = Field(default_factory=dict)
    externalURL: str | None = Field(None, max_length=URL)


class PagerDutyPayload(BaseModel):
    summary: str = Field(max_length=1024)
    source: Name
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class")
    custom_details: dict[str, Any] | None = None


class PagerDutyEvent(BaseModel):
    """Documents the body of POST /v2/enqueue; it is checked by services.detector.pagerduty
    so that refusals read as PagerDuty's do."""
    routing_key: str
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(None, max_length=255)
    payload: PagerDutyPayload | None = Field(None, description="required for trigger")
    client: str | None = None
    client_url: str | None = None
    images: list[dict[str, Any]] | None = None
    links: list[dict[str, Any]] | None = None


class PagerDutyResult(BaseModel):
    status: str = Field(examples=["success"])
    message: str = Field(examples=["Event processed"])
    dedup_key: str | None = None
    errors: list[str] | None = Field(None, description="400 only: what is wrong, by field")
