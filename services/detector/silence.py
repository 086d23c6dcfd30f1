"""Silent series of alerted rules: which entities of a rule that fired or resolved recently
sent nothing for longer than they should, and which sent again. A fix cannot be shown to
hold on a metric nobody measures, so capa needs to hear of it (MetricSilent / MetricResumed,
docs/adr/effectiveness-window.md). Pure: the tick (silence_watch.py) brings the times."""
from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.detector.domain import NS

# A silence is published after this many of the rule's evaluation intervals without a sample:
# one late sample is normal, three missed in a row are not.
MISSED_INTERVALS = 3


class Watched(NamedTuple):
    """One rule × entity whose alert fires or resolved within the watch's horizon (a tuple:
    the tick makes one per alerted pair)."""
    fingerprint: str
    rule_id: str
    name: str
    metric: str
    entity: str
    after: float  # seconds without a sample before it counts as silent


def silent_after(interval: float | None, default: float) -> float:
    """Three intervals of the rule; `default` for a rule that evaluates on every sample,
    whose cadence nobody declared."""
    return MISSED_INTERVALS * interval if interval else default


def changes(watched: list[Watched], last_sample: dict[str, float],
            silent_since: dict[str, float], now: float
            ) -> tuple[list[tuple[Watched, float]], list[tuple[Watched, float]]]:
    """(began, ended): fingerprints that fell silent, each with its last sample's time, and
    silent ones that sent again, each with the last sample before the silence. `last_sample`
    holds the latest sample per fingerprint (none known: not judged, e.g. pruned away);
    `silent_since` the silences already published."""
    began, ended = [], []
    for w in watched:
        last = last_sample.get(w.fingerprint)
        if last is None:
            continue
        since = silent_since.get(w.fingerprint)
        if since is None and now - last > w.after:
            began.append((w, last))
        elif since is not None and last > since:
            ended.append((w, since))
    return began, ended


class MetricSilence(Aggregate):
    """The silences of one rule × entity: at most one open at a time, so each is published
    once and a restarted detector knows which it already published."""

    @staticmethod
    def create_id(fingerprint: str) -> UUID:
        return uuid5(NS, f"silence:{fingerprint}")

    @event("Watched")
    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self.last_sample_at: datetime | None = None  # set while silent

    @property
    def silent(self) -> bool:
        return self.last_sample_at is not None

    def begin(self, w: Watched, last_sample_at: datetime, at: datetime, actor: str,
              cause: dict[str, Any]) -> bool:
        if self.silent:
            return False
        self._began(fingerprint=w.fingerprint, rule_id=w.rule_id, name=w.name, metric=w.metric,
                    entity=w.entity, last_sample_at=last_sample_at, after_seconds=w.after,
                    at=at, actor=actor, cause=cause)
        return True

    @event("Began")
    def _began(self, fingerprint: str, rule_id: str, name: str, metric: str, entity: str,
               last_sample_at: datetime, after_seconds: float, at: datetime, actor: str,
               cause: dict[str, Any]) -> None:
        self.last_sample_at = last_sample_at

    def end(self, w: Watched, resumed_at: datetime, at: datetime, actor: str,
            cause: dict[str, Any]) -> bool:
        if self.last_sample_at is None or resumed_at <= self.last_sample_at:
            return False
        self._ended(fingerprint=w.fingerprint, rule_id=w.rule_id, metric=w.metric,
                    entity=w.entity, last_sample_at=self.last_sample_at, resumed_at=resumed_at,
                    silent_seconds=(resumed_at - self.last_sample_at).total_seconds(),
                    at=at, actor=actor, cause=cause)
        return True

    @event("Ended")
    def _ended(self, fingerprint: str, rule_id: str, metric: str, entity: str,
               last_sample_at: datetime, resumed_at: datetime, silent_seconds: float,
               at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.last_sample_at = None
