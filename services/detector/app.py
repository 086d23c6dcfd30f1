"""Detector application: rules and the metric catalogue, the alerts evaluation raises, and
external alerts, each a get → call → save."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from shared.clock import Clock, SystemClock
from shared.store import ServiceApplication

from services.detector.domain import (
    Alert, MetricCatalogue, Rule, RuleBook, RuleNotFound, alert_id_for, rule_fingerprint,
)
from services.detector.external import ExternalAlert
from services.detector.rules import MetricSpec, RuleSpec, check_rule, definition_of
from services.detector.rules.catalogue import interval_of


class DetectorApplication(ServiceApplication):
    name = "detector"
    # A flapping alert and a growing rule book get long: read them from a recent snapshot.
    snapshotting_intervals = {Alert: 50, RuleBook: 50, MetricCatalogue: 50}

    def __init__(self, env: dict[str, str] | None = None, clock: Clock | None = None) -> None:
        super().__init__(env)
        self.clock = clock or SystemClock()

    # -- the metric catalogue -------------------------------------------------------------
    def declare_metrics(self, metrics: list[MetricSpec], *, actor: str,
                        cause: dict[str, Any]) -> int:
        def attempt() -> int:
            catalogue = self.get_or_none(MetricCatalogue.create_id()) or MetricCatalogue()
            at = self.clock.now()
            changed = sum(catalogue.declare(m.model_dump(mode="json"), at, actor, cause)
                          for m in metrics)
            self.save(catalogue)
            return changed
        return self.retry_on_conflict(attempt)

    def catalogue(self) -> dict[str, MetricSpec]:
        catalogue = self.get_or_none(MetricCatalogue.create_id())
        return {name: MetricSpec.model_validate(m)
                for name, m in (catalogue.metrics if catalogue else {}).items()}

    def known_metrics(self, seen: set[str]) -> dict[str, MetricSpec | None]:
        """Declared metrics, plus metrics only seen in samples (no interval or retention)."""
        return {**dict.fromkeys(seen), **self.catalogue()}

    # -- rules ----------------------------------------------------------------------------
    def define_rule(self, spec: RuleSpec, *, seen: set[str], actor: str,
                    cause: dict[str, Any]) -> dict[str, Any]:
        check_rule(spec, self.known_metrics(seen))
        # Every new rule is added to the one rule book: concurrent definitions conflict.
        def attempt() -> dict[str, Any]:
            book = self.get_or_none(RuleBook.create_id()) or RuleBook()
            rule = Rule(definition=definition_of(spec), at=self.clock.now(), actor=actor,
                        cause=cause)
            book.add(rule.id, spec.name)
            self.save(book, rule)
            return rule_view(rule)
        return self.retry_on_conflict(attempt)

    def redefine_rule(self, rule_id: UUID, spec: RuleSpec, *, seen: set[str], actor: str,
                      cause: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        check_rule(spec, self.known_metrics(seen))
        rule = self._rule(rule_id)
        changed = rule.redefine(definition_of(spec), self.clock.now(), actor, cause)
        self.save(rule)
        return rule_view(rule), changed

    def rule(self, rule_id: UUID) -> dict[str, Any]:
        return rule_view(self._rule(rule_id))

    def rule_history(self, rule_id: UUID) -> list[dict[str, Any]]:
        """Every version of a rule: what it said, who made it and when."""
        self._rule(rule_id)
        return [{"version": e.originator_version, "at": e.at, "actor": e.actor,
                 "definition": e.definition}
                for e in self.stored_events(rule_id) if hasattr(e, "definition")]

    def _rule(self, rule_id: UUID) -> Rule:
        rule = self.get_or_none(rule_id)
        if not isinstance(rule, Rule):
            raise RuleNotFound(f"rule {rule_id} does not exist")
        return rule

    def rules(self) -> list[Rule]:
        book = self.get_or_none(RuleBook.create_id())
        return [self.repository.get(rule_id) for rule_id in book.rule_ids] if book else []

    def active_rules(self) -> list[tuple[str, RuleSpec, MetricSpec | None]]:
        """What the evaluator runs: enabled rules with their metric's declaration."""
        catalogue = self.catalogue()
        return [(str(rule.id), spec, catalogue.get(spec.metric))
                for rule in self.rules() if rule.enabled
                for spec in [RuleSpec.model_validate(rule.definition)]]

    # -- alerts from evaluation ---------------------------------------------------------
    def apply_transitions(self, transitions: list[Any], *, actor: str,
                          cause: dict[str, Any]) -> dict[str, int]:
        """Turn the evaluator's transitions into alert events. Idempotent: a transition no
        later than the alert's last change was applied already, so a rebuild may repeat
        itself; raising a firing alert or resolving a quiet one changes nothing either."""
        return self.retry_on_conflict(lambda: self._apply(transitions, actor, cause))

    def _apply(self, transitions: list[Any], actor: str, cause: dict[str, Any]) -> dict[str, int]:
        now = self.clock.now()
        rules = self.rules() if transitions else []
        names = {str(rule.id): rule.name for rule in rules}
        trials = {str(rule.id) for rule in rules if rule.definition.get("trial")}
        intervals = self._intervals(rules)
        changed: dict[UUID, Alert] = {}
        counts = {"raised": 0, "resolved": 0, "suppressed": 0}
        for t in transitions:
            fingerprint = rule_fingerprint(t.rule, t.entity)
            aid = alert_id_for(fingerprint)
            alert = changed.get(aid) or self.get_or_none(aid) or Alert(
                fingerprint=fingerprint, source="rule", name=names.get(t.rule, t.rule),
                entity=t.entity, rule_id=t.rule, metric=t.metric, labels=dict(t.labels))
            at = _time(t.ts)
            if t.kind != "suppress" and at <= _last_change(alert):
                continue
            if t.kind == "raise" and not alert.firing:
                alert.raise_alert(severity=t.severity, value=t.value, threshold=None,
                                  summary=t.summary, started_at=at, at=now, actor=actor, cause=cause,
                                  trial=t.rule in trials, interval_seconds=intervals.get(t.rule),
                                  **_forecast_of(t))
            elif t.kind == "resolve" and alert.firing:
                alert.resolve(value=t.value, resolved_at=at, at=now, actor=actor, cause=cause)
            elif t.kind == "worsen":
                if alert.raise_severity(t.severity, t.value, t.summary, now, actor, cause):
                    changed[aid] = alert
                continue
            elif t.kind == "suppress":
                alert.suppress(rule_id=t.rule, severity=t.severity, value=t.value,
                               summary=t.summary, started_at=at, at=now, actor=actor, cause=cause)
            else:
                continue
            counts[{"raise": "raised", "resolve": "resolved"}.get(t.kind, "suppressed")] += 1
            changed[aid] = alert
        if changed:
            self.save(*changed.values())
        return counts

    def _intervals(self, rules: list[Rule]) -> dict[str, float | None]:
        """Rule id → how often it evaluates (its interval, else its metric's; none: on every
        sample), carried on the alert so capa can size the effectiveness window by it."""
        if not rules:
            return {}
        catalogue = self.catalogue()
        return {str(rule.id): interval_of(spec, catalogue.get(spec.metric))
                for rule in rules for spec in [RuleSpec.model_validate(rule.definition)]}

    def judge(self, fingerprint: str, verdict: str, incident: str, *, actor: str,
              cause: dict[str, Any], tracking: Any = None) -> None:
        """An incident grown from one of our alerts was resolved as real or false positive."""
        alert = self.get_or_none(alert_id_for(fingerprint))
        if alert is None or alert.source != "rule" or incident in alert.verdicts:
            self.save_tracked(tracking=tracking)
            return
        alert.judge(fingerprint=alert.fingerprint, rule_id=alert.rule_id, verdict=verdict, incident=incident,
                    entity=alert.entity, started_at=alert.started_at,
                    resolved_at=alert.resolved_at, at=self.clock.now(), actor=actor, cause=cause)
        self.save_tracked(alert, tracking=tracking)

    def withdraw_verdict(self, fingerprint: str, incident: str, reason: str, *, actor: str,
                         cause: dict[str, Any], tracking: Any = None) -> None:
        """The incident was flagged a drill after it was judged: rule health forgets it."""
        alert = self.get_or_none(alert_id_for(fingerprint))
        if alert is None or not alert.withdraw_verdict(incident, reason, self.clock.now(),
                                                       actor, cause):
            self.save_tracked(tracking=tracking)
            return
        self.save_tracked(alert, tracking=tracking)

    # -- external alerts ------------------------------------------------------------------
    def receive_external(self, alerts: list[ExternalAlert], known: Callable[[UUID], bool | None],
                         *, actor: str, cause: dict[str, Any],
                         read_unknown: bool = False) -> dict[str, int]:
        """Alerts from outside senders (Alertmanager, PagerDuty, mapped webhooks), deduplicated
        by fingerprint. `known` says whether an alert fires (True), was resolved (False) or was never raised (None) as far as the
        caller knows (services/detector/alert_ingest.py): alerts it knows in the state sent
        are not read at all. The changes are saved in one transaction; an IntegrityError
        means another writer changed one of them first."""
        now = self.clock.now()
        changed: dict[UUID, Alert] = {}
        raised = resolved = acknowledged = 0
        for ext in alerts:
            aid = alert_id_for(ext.fingerprint)
            alert = changed.get(aid)
            state = alert.firing if alert else known(aid)
            if ext.acknowledge:
                # Only a firing alert can be acknowledged: one the caller knows as quiet or
                # never raised is not read.
                if state or read_unknown:
                    alert = alert or self.get_or_none(aid)
                    if alert and alert.acknowledge(at=now, actor=actor, cause=cause):
                        acknowledged += 1
                        changed[aid] = alert
                continue
            if ext.firing == bool(state):
                continue  # a re-send, or the resolve of an alert that is not firing
            # A change: decided on the aggregate itself. One never raised does not exist,
            # unless the caller doubts it (after a conflict): then read it.
            if alert is None and (state is not None or read_unknown):
                alert = self.get_or_none(aid)
            if ext.firing and not (alert and alert.firing):
                alert = alert or Alert(fingerprint=ext.fingerprint, source=ext.source,
                                       name=ext.name, entity=ext.entity, rule_id=None,
                                       metric=ext.metric, labels=ext.labels)
                alert.raise_alert(severity=ext.severity, value=ext.value, threshold=None,
                                  summary=ext.summary, started_at=ext.starts_at, at=now,
                                  actor=actor, cause=cause)
                raised += 1
            elif not ext.firing and alert and alert.firing:
                alert.resolve(value=ext.value, resolved_at=ext.ends_at or now, at=now,
                              actor=actor, cause=cause)
                resolved += 1
            else:
                continue
            changed[aid] = alert
        if changed:
            self.save(*changed.values())
        counts = {"accepted": len(alerts), "raised": raised, "resolved": resolved}
        return {**counts, "acknowledged": acknowledged} if acknowledged else counts


def rule_view(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "name": rule.name, "metric": rule.metric, "enabled": rule.enabled,
            "version": rule.version, "definition": rule.definition}


def _last_change(alert: Alert) -> datetime:
    return max((t for t in (alert.started_at, alert.resolved_at) if t is not None),
               default=datetime.min.replace(tzinfo=timezone.utc))


def _forecast_of(t: Any) -> dict[str, Any]:
    """A predictive transition's forecast as alert fields (none for other transitions)."""
    at = getattr(t, "predicted_crossing_at", None)
    return {} if at is None else {"predicted_crossing_at": _time(at),
                                  "confidence": round(float(t.confidence), 3)}


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
