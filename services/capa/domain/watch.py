"""Which CAPA cases watch an alert: one small aggregate per fingerprint, so an AlertRaised
finds its cases without reading any table (the id is derived from the fingerprint)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.capa.domain.case import NAMESPACE


class AlertWatch(Aggregate):
    @staticmethod
    def create_id(fingerprint: str) -> UUID:
        return uuid5(NAMESPACE, f"alert:{fingerprint}")

    @event("Started")
    def __init__(self, fingerprint: str, at: datetime, actor: str,
                 cause: dict[str, Any]) -> None:
        self.fingerprint = fingerprint
        self.cases: list[str] = []

    def watch(self, capa_id: UUID, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        if str(capa_id) not in self.cases:
            self._watch(str(capa_id), at, actor, cause)

    @event("CaseAdded")
    def _watch(self, capa_id: str, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.cases.append(capa_id)

    # The metric's open silence (MetricSilent), so a case opened while it lasts starts
    # silent. A plain class attribute: watches stored before silences were heard have none.
    silence = None

    def metric_silent(self, silence: dict[str, Any], at: datetime, actor: str,
                      cause: dict[str, Any]) -> bool:
        if self.silence == silence:
            return False
        self._silent(silence, at, actor, cause)
        return True

    @event("MetricSilent")
    def _silent(self, silence: dict[str, Any], at: datetime, actor: str,
                cause: dict[str, Any]) -> None:
        self.silence = silence

    def metric_resumed(self, at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        if self.silence is None:
            return False
        self._resumed(at, actor, cause)
        return True

    @event("MetricResumed")
    def _resumed(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.silence = None
