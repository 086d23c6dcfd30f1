"""The detector's word on silent metrics, heard on the bus (domain/observation.py): a
MetricSilent is noted on the fingerprint's AlertWatch (so a case opened later starts silent)
and on each open case watching it; a MetricResumed ends it there and lengthens the windows
being watched by the silent time inside them. Reads only capa's own aggregates."""
from __future__ import annotations

from typing import Any
from uuid import UUID

from services.capa.domain import CapaCase
from services.capa.domain.watch import AlertWatch
from shared import causation
from shared.contracts import CloudEvent, MetricResumed, MetricSilent
from shared.store import Tracking

SYSTEM_ACTOR = "capa"


def silence_of(contract: MetricSilent) -> dict[str, Any]:
    return {"rule": contract.name, "metric": contract.metric, "entity": contract.entity,
            "since": contract.last_sample_at}


def start_silent(case: CapaCase, watch: AlertWatch, at: Any, cause: dict[str, Any]) -> None:
    """A case opened while its metric is silent knows it from the start."""
    if watch.silence is not None:
        case.metric_silent(fingerprint=watch.fingerprint, **watch.silence, at=at,
                           actor=SYSTEM_ACTOR, cause=cause)


class Silences:
    def __init__(self, app: Any) -> None:
        self.app = app

    def on_silent(self, envelope: CloudEvent, contract: MetricSilent,
                  tracking: Tracking) -> None:
        at, cause = self.app.clock.now(), causation.from_message(envelope)
        watch = self.app.get_or_none(AlertWatch.create_id(contract.fingerprint)) or AlertWatch(
            fingerprint=contract.fingerprint, at=at, actor=SYSTEM_ACTOR, cause=cause)
        silence = silence_of(contract)
        changed: list[Any] = [watch] if watch.metric_silent(silence, at, SYSTEM_ACTOR,
                                                            cause) else []
        changed += [case for case in self._cases(watch) if case.metric_silent(
            fingerprint=contract.fingerprint, **silence, at=at, actor=SYSTEM_ACTOR, cause=cause)]
        self.app.save_tracked(*changed, tracking=tracking)

    def on_resumed(self, envelope: CloudEvent, contract: MetricResumed,
                   tracking: Tracking) -> None:
        watch = self.app.get_or_none(AlertWatch.create_id(contract.fingerprint))
        if watch is None:  # never heard silent: nothing to end
            self.app.save_tracked(tracking=tracking)
            return
        at, cause = self.app.clock.now(), causation.from_message(envelope)
        changed: list[Any] = [watch] if watch.metric_resumed(at, SYSTEM_ACTOR, cause) else []
        changed += [case for case in self._cases(watch) if case.metric_resumed(
            fingerprint=contract.fingerprint, resumed_at=contract.resumed_at, at=at,
            actor=SYSTEM_ACTOR, cause=cause)]
        self.app.save_tracked(*changed, tracking=tracking)

    def _cases(self, watch: AlertWatch) -> list[CapaCase]:
        return [case for case in (self.app.get_or_none(UUID(i)) for i in watch.cases)
                if case is not None]
