"""Detector application: rules, sample evaluation and external alerts, each a get → call → save."""
from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from shared.clock import Clock, SystemClock
from shared.store import ServiceApplication

from services.detector.alertmanager import ExternalAlert
from services.detector.domain import Alert, Rule, RuleBook, RuleNotFound, alert_id_for


class DetectorApplication(ServiceApplication):
    name = "detector"
    # A flapping alert and a growing rule book get long: read them from a recent snapshot.
    snapshotting_intervals = {Alert: 50, RuleBook: 50}

    def __init__(self, env: dict[str, str] | None = None, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()

    # -- rules ----------------------------------------------------------------------------
    def define_rule(self, **command: Any) -> dict[str, Any]:
        # Every new rule is added to the one rule book: concurrent definitions conflict.
        return self.retry_on_conflict(lambda: self._define_rule(**command))

    def _define_rule(self, *, name: str, metric: str, operator: str, threshold: float,
                     severity: str, labels: dict[str, str], description: str, actor: str,
                     cause: dict[str, Any]) -> dict[str, Any]:
        book = self.get_or_none(RuleBook.create_id()) or RuleBook()
        rule = Rule(name=name, metric=metric, operator=operator, threshold=threshold,
                    severity=severity, labels=labels, description=description,
                    at=self.clock.now(), actor=actor, cause=cause)
        book.add(rule.id)
        self.save(book, rule)
        return rule_view(rule)

    def change_rule(self, rule_id: UUID, *, threshold: float | None, severity: str | None,
                    description: str | None, enabled: bool | None, actor: str,
                    cause: dict[str, Any]) -> dict[str, Any]:
        rule = self._rule(rule_id)
        at = self.clock.now()
        if threshold is not None or severity is not None or description is not None:
            rule.change(threshold=rule.threshold if threshold is None else threshold,
                        severity=severity or rule.severity,
                        description=rule.description if description is None else description,
                        at=at, actor=actor, cause=cause)
        if enabled is False and rule.enabled:
            rule.disable(at=at, actor=actor, cause=cause)
        if enabled is True and not rule.enabled:
            rule.enable(at=at, actor=actor, cause=cause)
        self.save(rule)
        return rule_view(rule)

    def rule(self, rule_id: UUID) -> dict[str, Any]:
        return rule_view(self._rule(rule_id))

    def _rule(self, rule_id: UUID) -> Rule:
        rule = self.get_or_none(rule_id)
        if not isinstance(rule, Rule):
            raise RuleNotFound(f"rule {rule_id} does not exist")
        return rule

    def rules(self) -> list[Rule]:
        book = self.get_or_none(RuleBook.create_id())
        return [self.repository.get(rule_id) for rule_id in book.rule_ids] if book else []

    # -- samples --------------------------------------------------------------------------
    def ingest(self, samples: list[Any], *, actor: str, cause: dict[str, Any]) -> dict[str, int]:
        # Two batches about the same series may race; the loser re-evaluates on fresh state.
        return self.retry_on_conflict(lambda: self._ingest(samples, actor=actor, cause=cause))

    def _ingest(self, samples: list[Any], *, actor: str, cause: dict[str, Any]) -> dict[str, int]:
        """Evaluate each sample against the rules watching its series, in time order, and
        store an event only when an alert starts or stops firing."""
        now = self.clock.now()
        series: dict[tuple[UUID, str], list[Any]] = defaultdict(list)
        rules = {rule.id: rule for rule in self.rules()}
        for sample in samples:
            for rule in rules.values():
                if rule.watches(sample.metric, sample.labels):
                    series[(rule.id, sample.entity)].append(sample)
        changed: dict[UUID, Alert] = {}
        raised = resolved = 0
        for (rule_id, entity), points in series.items():
            rule = rules[rule_id]
            fingerprint = rule.fingerprint(entity)
            alert = changed.get(alert_id_for(fingerprint)) or self.get_or_none(alert_id_for(fingerprint))
            for point in sorted(points, key=lambda s: s.ts or now):
                firing = rule.fires(point.value)
                ts = point.ts or now
                if firing and not (alert and alert.firing):
                    alert = alert or Alert(fingerprint=fingerprint, source="rule", name=rule.name,
                                           entity=entity, rule_id=str(rule.id), metric=rule.metric,
                                           labels=point.labels)
                    alert.raise_alert(
                        severity=rule.severity, value=point.value, threshold=rule.threshold,
                        summary=f"{rule.metric} for {entity} is {point.value:g}, "
                                f"{rule.operator} the threshold {rule.threshold:g}",
                        started_at=ts, at=now, actor=actor, cause=cause)
                    raised += 1
                elif not firing and alert and alert.firing:
                    alert.resolve(value=point.value, resolved_at=ts, at=now, actor=actor, cause=cause)
                    resolved += 1
                else:
                    continue
                changed[alert.id] = alert
        if changed:
            self.save(*changed.values())
        return {"accepted": len(samples), "raised": raised, "resolved": resolved}

    # -- external alerts ------------------------------------------------------------------
    def receive_external(self, alerts: list[ExternalAlert], *, actor: str,
                         cause: dict[str, Any]) -> dict[str, int]:
        return self.retry_on_conflict(
            lambda: self._receive_external(alerts, actor=actor, cause=cause))

    def _receive_external(self, alerts: list[ExternalAlert], *, actor: str,
                          cause: dict[str, Any]) -> dict[str, int]:
        """Alerts from Alertmanager, deduplicated by fingerprint: a re-sent firing alert
        changes nothing and stores nothing."""
        now = self.clock.now()
        changed: dict[UUID, Alert] = {}
        raised = resolved = 0
        for ext in alerts:
            aid = alert_id_for(ext.fingerprint)
            alert = changed.get(aid) or self.get_or_none(aid)
            if ext.firing and not (alert and alert.firing):
                alert = alert or Alert(fingerprint=ext.fingerprint, source="alertmanager",
                                       name=ext.name, entity=ext.entity, rule_id=None,
                                       metric=None, labels=ext.labels)
                alert.raise_alert(severity=ext.severity, value=None, threshold=None,
                                  summary=ext.summary, started_at=ext.starts_at, at=now,
                                  actor=actor, cause=cause)
                raised += 1
            elif not ext.firing and alert and alert.firing:
                alert.resolve(value=None, resolved_at=ext.ends_at or now, at=now, actor=actor,
                              cause=cause)
                resolved += 1
            else:
                continue
            changed[aid] = alert
        if changed:
            self.save(*changed.values())
        return {"accepted": len(alerts), "raised": raised, "resolved": resolved}


def rule_view(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "name": rule.name, "metric": rule.metric, "operator": rule.operator,
            "threshold": rule.threshold, "severity": rule.severity, "labels": rule.labels,
            "description": rule.description, "enabled": rule.enabled, "version": rule.version}
