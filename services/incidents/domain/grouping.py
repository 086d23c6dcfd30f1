"""Grouping (docs/adr/grouping-and-storms.md): alerts that share the configured `group_by`
labels join one incident for a window from its opening, as every alert on one store within
30 minutes. The GroupLink remembers, per group, the incident its alerts currently join."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.incidents.domain.ids import NAMESPACE
from shared.errors import Invalid

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # Prometheus label names


@dataclass(frozen=True)
class GroupRule:
    """`labels` empty: no grouping, one incident per alert fingerprint. `entity` and
    `alertname` name the alert's entity and name when its labels do not carry them."""

    labels: tuple[str, ...] = ()
    window: timedelta = timedelta(minutes=30)

    @property
    def on(self) -> bool:
        return bool(self.labels)

    def key_of(self, labels: Mapping[str, str], entity: str, name: str) -> str | None:
        """`store=深圳宝安店` (labels in configured order); None when the alert lacks one of
        them: lumping every alert without a store together would group unrelated things."""
        parts = []
        for label in self.labels:
            value = labels.get(label) or {"entity": entity, "alertname": name}.get(label)
            if not value:
                return None
            parts.append(f"{label}={value}")
        return ",".join(parts)


def parse_group_by(text: str) -> tuple[str, ...]:
    """`store` or `region,store`: label names, comma-separated; empty turns grouping off."""
    labels = tuple(label.strip() for label in text.split(",") if label.strip())
    for label in labels:
        if not _LABEL.match(label):
            raise Invalid("group_by", f"{label!r} is not a label name (letters, digits and _, "
                                      "not starting with a digit), e.g. store or entity")
    if len(set(labels)) != len(labels):
        raise Invalid("group_by", f"{text!r} names a label twice")
    return labels


class GroupLink(Aggregate):
    """Per group key: the incident its alerts join and when that incident opened."""

    @staticmethod
    def create_id(key: str) -> UUID:
        return uuid5(NAMESPACE, f"group:{key}")

    @event("Started")
    def __init__(self, key: str, incident_id: UUID, opened_at: datetime, at: datetime,
                 actor: str, cause: dict[str, Any]) -> None:
        self.key, self.incident_id, self.opened_at = key, incident_id, opened_at

    @event("IncidentLinked")
    def link(self, incident_id: UUID, opened_at: datetime, at: datetime, actor: str,
             cause: dict[str, Any]) -> None:
        self.incident_id, self.opened_at = incident_id, opened_at

    def joining(self, at: datetime, window: timedelta) -> UUID | None:
        """The incident an alert of this group at `at` joins, if its window is still open."""
        return self.incident_id if at - self.opened_at < window else None
