"""Where external alerts may come from besides Alertmanager, as configuration
(docs/intake.md): PagerDuty integrations by routing key, and JSON webhooks with a declarative
field mapping. Read from CLOSEDLOOP_ALERT_SOURCES (JSON) or the YAML file named by
CLOSEDLOOP_ALERT_SOURCES_FILE."""
from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.durations import parse_rate
from shared.limits import ITEMS, LABEL_VALUE, Labels, MapKey, Name


def _compiled(expression: str, field: str) -> Any:
    try:
        return jmespath.compile(expression)
    except JMESPathError as error:
        raise ValueError(f"{field}: '{expression}' is not a JMESPath expression ({error})") from None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PagerDutyIntegration(Strict):
    """One Events API v2 integration: senders put its key in `routing_key`. `name` scopes
    dedup keys (as a PagerDuty service does) and is the alert's `integration` label."""
    name: Name
    routing_key: str = Field(min_length=8, max_length=LABEL_VALUE)
    labels: Labels = Field(default_factory=dict, description="added to every alert it raises")
    rate_limit: str = Field(
        "120/60s", max_length=40,
        description="at most <count> events per <length> (PagerDuty's own limit is about 120 "
                    "a minute per integration key); more are answered 429; off: no limit")

    @field_validator("rate_limit")
    @classmethod
    def _readable_rate(cls, value: str) -> str:
        parse_rate(value)  # its ValueError names the form
        return value

    @cached_property
    def limit(self) -> tuple[int, timedelta] | None:
        return parse_rate(self.rate_limit)


class Lookup(Strict):
    """A path and what its values mean: `map` turns the value found (as text) into ours."""
    path: str = Field(min_length=1, max_length=LABEL_VALUE)
    map: dict[str, str] = Field(default_factory=dict, max_length=ITEMS)
    default: str | None = None


class WebhookMapping(Strict):
    """Where each part of an alert is in the sender's JSON: JMESPath expressions
    (https://jmespath.org), evaluated against each alert of `alerts` (the whole body when
    `alerts` is not set). Required parts that match nothing refuse the request."""
    alerts: str | None = Field(None, description="path to the list of alerts in the body")
    fingerprint: str = Field(description="what identifies the alert across sends")
    status: Lookup = Field(description="map: sent value → firing | resolved")
    entity: str
    name: str | None = Field(None, description="alert name; default: the source's name")
    severity: Lookup | None = Field(None, description="map: sent value → P0..P3; default P2")
    summary: str | None = None
    metric: str | None = None
    value: str | None = None
    labels: str | None = Field(None, description="path to an object of labels")
    starts_at: str | None = Field(None, description="ISO 8601 or epoch seconds; default now")
    static_labels: Labels = Field(default_factory=dict)

    @model_validator(mode="after")
    def _paths_compile(self) -> WebhookMapping:
        for field, expression in self.paths().items():
            _compiled(expression, field)
        if set(self.status.map.values()) - {"firing", "resolved"}:
            raise ValueError("status.map values must be firing or resolved")
        levels = (set(self.severity.map.values()) | {self.severity.default or "P2"}
                  if self.severity else set())
        if levels - {"P0", "P1", "P2", "P3"}:
            raise ValueError("severity.map values and severity.default must be P0, P1, P2 or P3")
        return self

    def paths(self) -> dict[str, str]:
        """Field → expression, for every part that is set."""
        lookups = {"status": self.status.path,
                   "severity": self.severity.path if self.severity else None}
        plain = {f: getattr(self, f) for f in ("alerts", "fingerprint", "entity", "name",
                                               "summary", "metric", "value", "labels",
                                               "starts_at")}
        return {f: e for f, e in {**plain, **lookups}.items() if e is not None}

    @cached_property
    def compiled(self) -> dict[str, Any]:
        return {field: jmespath.compile(e) for field, e in self.paths().items()}


class AlertSources(Strict):
    pagerduty: list[PagerDutyIntegration] = Field(default_factory=list, max_length=ITEMS)
    webhooks: dict[MapKey, WebhookMapping] = Field(default_factory=dict, max_length=ITEMS)

    @field_validator("pagerduty")
    @classmethod
    def _distinct(cls, integrations: list[PagerDutyIntegration]) -> list[PagerDutyIntegration]:
        for what in ("name", "routing_key"):
            values = [getattr(i, what) for i in integrations]
            if len(set(values)) != len(values):
                raise ValueError(f"each PagerDuty integration needs its own {what}")
        return integrations

    @cached_property
    def by_routing_key(self) -> dict[str, PagerDutyIntegration]:
        return {i.routing_key: i for i in self.pagerduty}
