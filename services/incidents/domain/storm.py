"""Storm control (docs/adr/grouping-and-storms.md): when more than `threshold` new incidents
would open within `window`, further alerts are gathered under one storm incident that pages
once; the storm ends by itself after a whole window with at most `threshold` gathered.

StormRate counts openings on the injected clock (per process); StormControl is the one
record of the storm in progress, so every replica and a restarted process find it; the storm
state itself lives on the storm incident (IncidentStorm)."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.incidents.domain.core import IncidentCore
from services.incidents.domain.ids import NAMESPACE
from shared.errors import Invalid
from shared.sliding_window import SlidingWindow

STORM_PREFIX = "storm:"  # the storm incident's fingerprint: it names no alert
# The incident's collections that hold only strings or numbers (shallow copies suffice).
_FLAT = frozenset({"alert_ids", "cleared_alert_ids", "storm_entities"})


@dataclass(frozen=True)
class StormRule:
    """More than `threshold` new incidents within `window` is a storm; 0 turns control off."""

    threshold: int = 0
    window: timedelta = timedelta(seconds=60)

    @property
    def on(self) -> bool:
        return self.threshold > 0

    def describe(self) -> str:
        return f"more than {self.threshold} new incidents in {_length(self.window)}"


def parse_storm(text: str) -> tuple[int, str]:
    """`50/60s` → (50, "60s"); empty or `off` → (0, ""). The length is checked by the caller."""
    text = text.strip()
    if text in ("", "off", "0"):
        return 0, ""
    count, _, length = text.partition("/")
    if not count.strip().isdigit() or int(count) < 1 or not length.strip():
        raise Invalid("storm", f"{text!r} is not <count>/<length>, e.g. 50/60s (more than 50 "
                               "new incidents in 60 seconds), or off")
    return int(count), length.strip()


class StormRate(SlidingWindow):
    """When new incidents opened (or would have), over the last window, on the injected
    clock. Per process: with several replicas each counts its share (the ADR says how to
    set the threshold then)."""


class StormControl(Aggregate):
    """The storm in progress, if any (one at a time), and how many there have been."""

    ID = uuid5(NAMESPACE, "storm-control")

    @staticmethod
    def create_id() -> UUID:
        return StormControl.ID

    @event("Opened")
    def __init__(self) -> None:
        self.current: UUID | None = None
        self.storms = 0

    @event("StormStarted")
    def start(self, incident_id: UUID, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.current = incident_id
        self.storms += 1

    @event("StormEnded")
    def end(self, incident_id: UUID, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        if self.current == incident_id:
            self.current = None


class IncidentStorm(IncidentCore):
    """The storm incident's counts: alerts gathered, per entity, per window since it began.
    Other incidents keep these class defaults (no annotations: eventsourcing would take them
    for fields)."""

    storm_started_at = None
    storm_ended_at = None
    storm_threshold = 0
    storm_window_seconds = 0.0
    storm_alerts = 0
    storm_entities = None  # entity → alerts gathered
    storm_windows = ()  # (window index, alerts gathered in it), the last two windows

    def __deepcopy__(self, memo: dict[int, Any]) -> "IncidentStorm":
        """A batch hands each handler a deep copy of what an earlier one saved: a storm
        incident holds thousands of alert ids, so its flat collections of strings and counts
        are copied flat (their items cannot change) instead of item by item."""
        clone = copy.copy(self)
        memo[id(self)] = clone
        for name, value in vars(self).items():
            flat = name in _FLAT and isinstance(value, (list, dict))
            setattr(clone, name, value.copy() if flat else copy.deepcopy(value, memo))
        return clone

    @property
    def storming(self) -> bool:
        """A storm incident whose storm has not ended: it gathers alerts."""
        return self.storm_started_at is not None and self.storm_ended_at is None

    def start_storm(self, rule: StormRule, at: datetime, actor: str,
                    cause: dict[str, Any]) -> None:
        self._storm_started(threshold=rule.threshold,
                            window_seconds=rule.window.total_seconds(), at=at, actor=actor,
                            cause=cause)

    @event("StormStarted")
    def _storm_started(self, threshold: int, window_seconds: float, at: datetime, actor: str,
                       cause: dict[str, Any]) -> None:
        self.storm_started_at, self.storm_threshold = at, threshold
        self.storm_window_seconds = window_seconds
        self.storm_entities = {}

    def gather_alert(self, alert: dict[str, Any], at: datetime, actor: str,
                     cause: dict[str, Any]) -> None:
        """`alert`: its details with fingerprint, entity and severity; listed on the storm."""
        if alert["alert_id"] not in self.alert_ids:  # type: ignore[attr-defined]
            self._alert_gathered(alert=alert, at=at, actor=actor, cause=cause)

    @event("AlertGathered")
    def _alert_gathered(self, alert: dict[str, Any], at: datetime, actor: str,
                        cause: dict[str, Any]) -> None:
        self.alert_ids.append(alert["alert_id"])  # type: ignore[attr-defined]
        self.storm_alerts += 1
        entities = self.storm_entities or {}
        entities[alert["entity"]] = entities.get(alert["entity"], 0) + 1
        self.storm_entities = entities
        index = self._window_index(at)
        last = dict(self.storm_windows)
        last[index] = last.get(index, 0) + 1
        self.storm_windows = tuple(sorted(last.items())[-2:])

    def calm(self, at: datetime) -> bool:
        """The storm is over once a whole window since it began has gathered at most
        `threshold` alerts: the rate has fallen back to where incidents open one by one."""
        if not self.storming:
            return False
        finished = self._window_index(at) - 1  # the last whole window before `at`
        return finished >= 0 and dict(self.storm_windows).get(finished, 0) <= self.storm_threshold

    def end_storm(self, at: datetime, actor: str, cause: dict[str, Any]) -> str:
        """Record the end; returns the summary told to the incident's people."""
        entities = self.storm_entities or {}
        # Its alerts but the storm's own opening one, which names no alert and never clears.
        firing = len(self.alert_ids) - 1 - len(self.cleared_alert_ids)  # type: ignore[attr-defined]
        top = ", ".join(f"{entity} ({count})" for entity, count in sorted(
            entities.items(), key=lambda item: (-item[1], item[0]))[:5])
        summary = (f"alert storm over: {self.storm_alerts} alerts gathered on {len(entities)} "
                   f"entities between {self.storm_started_at:%Y-%m-%d %H:%M:%S} and "
                   f"{at:%H:%M:%S} UTC; {firing} still firing; most alerts: {top or 'none'}. "
                   "New alerts open incidents again; the gathered ones are listed on this "
                   "incident")
        self._storm_ended(alerts=self.storm_alerts, entities=len(entities), firing=firing,
                          summary=summary, at=at, actor=actor, cause=cause)
        return summary

    @event("StormEnded")
    def _storm_ended(self, alerts: int, entities: int, firing: int, summary: str,
                     at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.storm_ended_at = at

    def _window_index(self, at: datetime) -> int:
        return int((at - self.storm_started_at).total_seconds()  # type: ignore[operator]
                   // self.storm_window_seconds)


def _length(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
