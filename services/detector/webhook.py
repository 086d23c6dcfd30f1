"""A JSON alert webhook read through its source's declarative mapping (alert_sources.py):
Grafana, Zabbix, Datadog or a script send their own JSON; each part of an alert is found by a
JMESPath expression. Any required part that matches nothing refuses the whole request with
the alert and the path named, so nothing is half-recorded (docs/intake.md)."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError

from shared.limits import LABEL_VALUE, MANY, MAP_KEY, MAP_KEYS, NAME, TEXT

from services.detector.alert_sources import WebhookMapping
from services.detector.domain import Severity, fingerprint_of
from services.detector.external import ExternalAlert
from services.detector.ingest import MAX_ERRORS

MISMATCH = "payload_matching_the_mapping"


def webhook_alerts(body: bytes, source: str, mapping: WebhookMapping,
                   now: datetime) -> list[ExternalAlert]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestValidationError([{"loc": ("body",), "type": "json_invalid",
                                       "msg": f"the body is not JSON: {error}"}]) from None
    paths, compiled = mapping.paths(), mapping.compiled
    if mapping.alerts is not None:
        items = compiled["alerts"].search(doc)
        if not isinstance(items, list) or not items:
            raise _refused([((), f"path '{mapping.alerts}' (alerts) found no list of alerts",
                             "alerts")])
        if len(items) > MANY:
            raise _refused([((), f"at most {MANY} alerts in one request ({len(items)} sent)",
                             "alerts")])
    else:
        items = [doc]
    alerts, problems = [], []
    for i, item in enumerate(items):
        reader = _Reader(item, paths, compiled, (i,) if mapping.alerts is not None else ())
        alert = _alert(reader, source, mapping, now)
        problems.extend(reader.problems)
        if alert is not None:
            alerts.append(alert)
    if problems:
        raise _refused(problems)
    return alerts


class _Reader:
    def __init__(self, item: Any, paths: dict[str, str], compiled: dict[str, Any],
                 at: tuple) -> None:
        self.item, self.paths, self.compiled, self.at = item, paths, compiled, at
        self.problems: list[tuple[tuple, str, str]] = []

    def get(self, field: str, required: bool = False) -> Any:
        if field not in self.compiled:
            return None
        value = self.compiled[field].search(self.item)
        if value is None and required:
            self.fail(field, "matched nothing")
        return value

    def text(self, field: str, limit: int, required: bool = False) -> str | None:
        value = self.get(field, required)
        if value is None:
            return None
        if isinstance(value, (dict, list)) or isinstance(value, bool):
            self.fail(field, f"found {type(value).__name__}, not text or a number")
            return None
        text = _as_text(value)
        if required and not text.strip():
            self.fail(field, "found an empty value")
            return None
        if len(text) > limit:
            self.fail(field, f"found {len(text)} characters; at most {limit}")
            return None
        return text

    def fail(self, field: str, what: str) -> None:
        self.problems.append((self.at, f"path '{self.paths[field]}' ({field}) {what}", field))


def _alert(r: _Reader, source: str, m: WebhookMapping, now: datetime) -> ExternalAlert | None:
    fingerprint = r.text("fingerprint", LABEL_VALUE, required=True)
    entity = r.text("entity", NAME, required=True)
    status = _mapped(r, "status", m.status.map, m.status.default)
    # Without a default, a severity the map does not list (or none at all) is refused.
    severity = _mapped(r, "severity", m.severity.map, m.severity.default) if m.severity else "P2"
    name = r.text("name", NAME) or source
    summary = r.text("summary", TEXT) or ""
    metric = r.text("metric", NAME)
    value = _number(r)
    labels = _labels(r)
    starts_at = _time(r, now)
    if r.problems or None in (fingerprint, entity, status, severity):
        return None
    return ExternalAlert(
        fingerprint=fingerprint_of("webhook", source, fingerprint), firing=status == "firing",
        name=name, entity=entity, severity=Severity(severity),
        labels={**m.static_labels, **labels, "webhook": source}, summary=summary,
        starts_at=starts_at, ends_at=None if status == "firing" else now,
        source=f"webhook:{source}", metric=metric, value=value)


def _mapped(r: _Reader, field: str, table: dict[str, str], default: str | None) -> str | None:
    sent = r.get(field, required=default is None)
    if sent is None:
        return default
    key = _as_text(sent)
    if key in table:
        return table[key]
    if default is not None:
        return default
    r.fail(field, f"found '{key[:40]}', which the mapping does not list "
                  f"(known: {', '.join(table) or 'none'})")
    return None


def _number(r: _Reader) -> float | None:
    value = r.get("value")
    if value is None:
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        r.fail("value", "found no finite number")
        return None
    return number


def _labels(r: _Reader) -> dict[str, str]:
    found = r.get("labels")
    if found is None:
        return {}
    if not isinstance(found, dict):
        r.fail("labels", "found no object of labels")
        return {}
    labels = {str(k)[:MAP_KEY]: _as_text(v)[:LABEL_VALUE] for k, v in found.items()
              if k and v is not None and not isinstance(v, (dict, list))}
    if len(labels) > MAP_KEYS - 1:  # one key is kept for `webhook`
        r.fail("labels", f"found {len(labels)} labels; at most {MAP_KEYS - 1}")
        return {}
    return labels


def _time(r: _Reader, now: datetime) -> datetime:
    value = r.get("starts_at")
    if value is None:
        return now
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        at = datetime.fromisoformat(value)
        return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        r.fail("starts_at", "found no ISO 8601 time or epoch seconds")
        return now


def _as_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _refused(problems: list[tuple[tuple, str, str]]) -> RequestValidationError:
    return RequestValidationError(
        [{"loc": ("body", *([] if not at else ["alerts", *at]), field), "msg": msg,
          "type": MISMATCH} for at, msg, field in problems[:MAX_ERRORS]])
