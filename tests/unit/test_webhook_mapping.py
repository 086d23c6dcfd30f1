"""Generic JSON webhooks read through the shipped example mappings (examples/alert-sources):
Grafana's and Zabbix's own payloads become alerts; a payload the mapping does not match is
refused naming the alert and the path, and no alert of it is kept."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest
import yaml
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.detector.alert_sources import AlertSources, WebhookMapping
from services.detector.domain import Severity
from services.detector.webhook import webhook_alerts

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=timezone.utc)
EXAMPLE = Path(__file__).parents[2] / "examples" / "alert-sources" / "alert-sources.yaml"
SOURCES = AlertSources.model_validate(yaml.safe_load(EXAMPLE.read_text()))


def grafana(*alerts: dict) -> dict:
    return {"receiver": "closedloop", "status": "firing", "orgId": 1, "version": "1",
            "groupKey": "{}:{alertname=\"StoreErrorRate\"}", "truncatedAlerts": 0,
            "alerts": list(alerts), "commonLabels": {}, "externalURL": "http://grafana:3000/"}


def grafana_alert(store: str, status: str = "firing", **labels: str) -> dict:
    return {"status": status, "fingerprint": f"gf-{store}",
            "labels": {"alertname": "StoreErrorRate", "store": store, "severity": "critical",
                       **labels},
            "annotations": {"summary": f"errors at {store}"}, "startsAt": "2026-12-06T07:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "values": {"B": 42.5, "C": 1},
            "generatorURL": "http://grafana:3000/alerting/grafana/x/view"}


def read(source: str, body: dict):
    return webhook_alerts(orjson.dumps(body), source, SOURCES.webhooks[source], NOW)


def mismatches(source: str, body: dict) -> list[tuple[str, str]]:
    with pytest.raises(RequestValidationError) as caught:
        read(source, body)
    return [(".".join(map(str, e["loc"][1:])), e["msg"]) for e in caught.value.errors()]


def test_a_grafana_payload_becomes_one_alert_per_grafana_alert():
    alerts = read("grafana", grafana(grafana_alert("sz-baoan"),
                                     grafana_alert("gz-tianhe", "resolved", severity="warning")))
    first, second = alerts
    assert (first.firing, first.entity, first.name, first.severity, first.value, first.source) == (
        True, "sz-baoan", "StoreErrorRate", Severity.P0, 42.5, "webhook:grafana")
    assert first.summary == "errors at sz-baoan"
    assert first.starts_at == datetime(2026, 12, 6, 7, 55, tzinfo=timezone.utc)
    assert first.labels["store"] == "sz-baoan" and first.labels["webhook"] == "grafana"
    assert (second.firing, second.severity) == (False, Severity.P2)
    assert first.fingerprint != second.fingerprint
    assert read("grafana", grafana(grafana_alert("sz-baoan")))[0].fingerprint == first.fingerprint


def test_a_zabbix_problem_and_its_recovery_are_one_alert():
    problem = {"event_id": "20931", "event_value": "1", "severity": "High", "host": "wh-shenzhen-01",
               "trigger": "Cold room above 8°C", "item": "cold.temp", "value": "9.4",
               "opdata": "9.4 °C"}
    raised, = read("zabbix", problem)
    cleared, = read("zabbix", {**problem, "event_value": "0"})
    assert (raised.firing, raised.severity, raised.entity, raised.metric, raised.value) == (
        True, Severity.P1, "wh-shenzhen-01", "cold.temp", 9.4)
    assert raised.summary == "Cold room above 8°C 9.4 °C"
    assert raised.labels == {"monitor": "zabbix", "webhook": "zabbix"}
    assert (cleared.firing, cleared.fingerprint) == (False, raised.fingerprint)


def test_a_payload_the_mapping_does_not_match_is_refused_naming_alert_and_path():
    no_store = grafana_alert("x")
    del no_store["labels"]["store"]
    errors = mismatches("grafana", grafana(grafana_alert("ok"), no_store,
                                           {**grafana_alert("y"), "status": "pending"}))
    assert errors == [
        ("alerts.1.entity", "path 'labels.store || labels.instance' (entity) matched nothing"),
        ("alerts.2.status", "path 'status' (status) found 'pending', which the mapping does not "
                            "list (known: firing, resolved)"),
    ]


def test_a_body_without_the_alert_list_names_the_path():
    assert mismatches("grafana", {"title": "not grafana"}) == [
        ("alerts", "path 'alerts' (alerts) found no list of alerts")]


def test_a_value_that_is_no_number_and_an_unknown_severity_are_named():
    problem = {"event_id": "1", "event_value": "1", "severity": "Catastrophic", "host": "h",
               "trigger": "t", "value": "high"}
    assert mismatches("zabbix", problem) == [
        ("severity", "path 'severity' (severity) found 'Catastrophic', which the mapping does not "
                     "list (known: Disaster, High, Average, Warning, Information, Not classified)"),
        ("value", "path 'value' (value) found no finite number")]


def test_a_mapping_with_a_broken_path_or_unknown_level_is_refused_when_configured():
    base = {"fingerprint": "id", "status": {"path": "s", "map": {"1": "firing"}}, "entity": "h"}
    with pytest.raises(ValidationError, match="is not a JMESPath expression"):
        WebhookMapping.model_validate({**base, "entity": "labels.[["})
    with pytest.raises(ValidationError, match="must be P0, P1, P2 or P3"):
        WebhookMapping.model_validate({**base, "severity": {"path": "p", "map": {"x": "P9"}}})
    with pytest.raises(ValidationError, match="firing or resolved"):
        WebhookMapping.model_validate({**base, "status": {"path": "s", "map": {"1": "open"}}})
