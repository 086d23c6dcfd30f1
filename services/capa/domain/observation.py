"""A watched metric that goes silent (docs/adr/effectiveness-window.md): the detector says
the incident's rule × entity sent no samples (MetricSilent) and later that it sends again
(MetricResumed). A window cannot pass on a metric nobody measured: while the metric is silent
the case cannot close, and a window that reaches its end then is held open. The window needs
its full length observed, so the silent span inside it lengthens it once samples resume."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.capa.domain.effectiveness import span, window_name
from services.capa.domain.vocabulary import CaseStatus


def silent_blocker(ref: str, silence: dict[str, Any]) -> str:
    return (f"the effectiveness window of {ref} cannot pass unobserved: "
            f"{silence['entity']} has sent no samples of {silence['metric']} since "
            f"{silence['since']:%Y-%m-%d %H:%M} UTC; once samples arrive the window is "
            "lengthened by the silent time")


def unobserved_reason(ref: str, silence: dict[str, Any], unobserved: timedelta,
                      window: timedelta) -> str:
    """'the effectiveness window of P0-2026-12-003 cannot pass unobserved: store-042 sent
    no samples of store.nps for 2 days of the 7-day window'."""
    return (f"the effectiveness window of {ref} cannot pass unobserved: {silence['entity']} "
            f"sent no samples of {silence['metric']} for {span(unobserved)} of "
            f"{window_name(window)}")


class ObservedCase(Aggregate):
    # Plain class attributes (no annotation, which would become an event field): cases
    # stored before silences were heard read as observed.
    silence = None  # the metric's open silence: rule, metric, entity, since
    unobserved_seconds = 0.0  # silent time inside windows, by which they were lengthened
    held_open = None  # why the window's end passed without closing the case

    def metric_silent(self, *, fingerprint: str, rule: str, metric: str, entity: str,
                      since: datetime, at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        """Noted in any open case (a window that starts later starts silent); False when the
        case is closed, watches another alert, or knows this silence already."""
        if (self.status is CaseStatus.CLOSED or fingerprint != self.fingerprint
                or (self.silence is not None and self.silence["since"] == since)):
            return False
        self._metric_silent(incident_id=self.incident_id, ref=self.ref, fingerprint=fingerprint,
                            rule=rule, metric=metric, entity=entity, since=since, at=at,
                            actor=actor, cause=cause)
        return True

    @event("MetricWentSilent")
    def _metric_silent(self, incident_id: str, ref: str, fingerprint: str, rule: str,
                       metric: str, entity: str, since: datetime, at: datetime, actor: str,
                       cause: dict[str, Any]) -> None:
        self.silence = {"rule": rule, "metric": metric, "entity": entity, "since": since}

    def metric_resumed(self, *, fingerprint: str, resumed_at: datetime, at: datetime,
                       actor: str, cause: dict[str, Any]) -> bool:
        """Samples again: a window being watched is lengthened by the silent time inside it."""
        if (self.status is CaseStatus.CLOSED or fingerprint != self.fingerprint
                or self.silence is None):
            return False
        unobserved, ends_at = timedelta(0), None
        if self.status is CaseStatus.EFFECTIVENESS and self.window_ends_at is not None:
            assert self.window_started_at is not None
            unobserved = max(timedelta(0),
                             resumed_at - max(self.silence["since"], self.window_started_at))
            ends_at = self.window_ends_at + unobserved
        self._metric_resumed(incident_id=self.incident_id, ref=self.ref,
                             fingerprint=fingerprint, since=self.silence["since"],
                             resumed_at=resumed_at,
                             unobserved_seconds=unobserved.total_seconds(), ends_at=ends_at,
                             at=at, actor=actor, cause=cause)
        return True

    @event("MetricResumed")
    def _metric_resumed(self, incident_id: str, ref: str, fingerprint: str, since: datetime,
                        resumed_at: datetime, unobserved_seconds: float,
                        ends_at: datetime | None, at: datetime, actor: str,
                        cause: dict[str, Any]) -> None:
        self.silence, self.held_open = None, None
        self.unobserved_seconds += unobserved_seconds
        if ends_at is not None:
            self.window_ends_at = ends_at

    def hold_open_if_unobserved(self, at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        """At the window's end: True (and the reason recorded once) when the metric is
        silent, so the case stays open until samples resume and the rest of it passes."""
        if self.silence is None:
            return False
        if self.held_open is None:
            assert self.window and self.window_started_at and self.window_ends_at
            unobserved = self.window_ends_at - max(self.silence["since"], self.window_started_at)
            self._held_open(incident_id=self.incident_id, ref=self.ref,
                            fingerprint=self.fingerprint,
                            reason=unobserved_reason(self.ref, self.silence,
                                                     max(unobserved, timedelta(0)), self.window),
                            at=at, actor=actor, cause=cause)
        return True

    @event("EffectivenessHeldOpen")
    def _held_open(self, incident_id: str, ref: str, fingerprint: str | None, reason: str,
                   at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.held_open = reason

    def observation_blockers(self) -> list[str]:
        if self.silence is None:
            return []
        return [self.held_open or silent_blocker(self.ref, self.silence)]
