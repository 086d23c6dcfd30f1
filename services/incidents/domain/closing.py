"""The ways a resolved incident closes besides its CAPA case (closing_policy.py,
docs/adr/closing-paths.md): at once as a false positive; by a person's note when a CAPA is
optional (or a CAPA case they ask for); by itself after an observation window its alert
stayed clear through, sent back to investigation by a re-fire inside it. Also the drill
flag: an exercise, kept out of every KPI."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import event

from services.incidents.domain.closing_policy import ClosingPath
from services.incidents.domain.core import IncidentCore
from services.incidents.domain.errors import NotClosable
from services.incidents.domain.vocabulary import Status
from shared.durations import day_of, failure_reason, span, window_name
from shared.errors import Invalid


class IncidentClosing(IncidentCore):
    """Class defaults: incidents stored before closing paths needed a CAPA and were no drill."""

    closing = ClosingPath.REQUIRED.value
    observe_seconds = None  # the observation window's length, when it observes
    observe_started_at = None  # the window runs from here (None: the alert still fires)
    observe_ends_at = None
    observations_failed = 0
    capa_requested = False
    drill = False
    drill_reason = None
    closing_path = None  # how it closed: "capa", "false_positive", "optional", "observe"
    closing_note = ""
    closed_by = None

    # -- following the path chosen at resolution -------------------------------------------
    def follow_closing_path(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        """Called right after the resolution recorded its path."""
        if self.closing == ClosingPath.FALSE_POSITIVE:
            self._close(  # type: ignore[attr-defined]  (capa.py)
                ref=self.ref, capa_id=None, root_cause="", actions=0, at=at, actor=actor,
                cause=cause, path=ClosingPath.FALSE_POSITIVE.value,
                note=self.resolution, by=self.resolved_by)  # type: ignore[attr-defined]
        elif self.closing == ClosingPath.OBSERVE:
            self.start_observation_if_clear(at, actor, cause)

    # -- observe ---------------------------------------------------------------------------
    @property
    def observing(self) -> bool:
        return self.status is Status.OBSERVING  # type: ignore[attr-defined]

    def start_observation_if_clear(self, at: datetime, actor: str,
                                   cause: dict[str, Any]) -> None:
        """The window starts once service is restored and every alert of the incident has
        cleared: "stayed clear for N days" counts from the last clearing, not from a
        resolution made while the alert still fired."""
        if not self.observing or self.observe_started_at is not None:
            return
        firing = set(self.alert_ids) - set(self.cleared_alert_ids)  # type: ignore[attr-defined]
        if firing and self.watches_alert:
            return
        window = timedelta(seconds=self.observe_seconds or 0)
        self._observation_started(ref=self.ref, window_seconds=window.total_seconds(),
                                  ends_at=at + window, at=at, actor=actor, cause=cause)

    @property
    def watches_alert(self) -> bool:
        """A declared incident names no alert: nothing can re-fire, nothing has to clear."""
        return not self.fingerprint.startswith("manual:")  # type: ignore[attr-defined]

    @event("ObservationStarted")
    def _observation_started(self, ref: str, window_seconds: float, ends_at: datetime,
                             at: datetime, actor: str, cause: dict[str, Any]) -> None:
        self.observe_started_at, self.observe_ends_at = at, ends_at

    def observation_refired(self, alert_id: str, alert: str, fired_at: datetime,
                            at: datetime, actor: str, cause: dict[str, Any]) -> bool:
        """The alert fired again while the self-fix was observed: the observation failed and
        the incident is investigated again (a new acknowledgement, the SLA from now); its
        next resolution needs a CAPA case. False when it is not being observed."""
        if not self.observing:
            return False
        window = timedelta(seconds=self.observe_seconds or 0)
        start = self.observe_started_at or fired_at
        reason = failure_reason(self.ref, alert, self.entity,  # type: ignore[attr-defined]
                                start, max(fired_at, start), window)
        self._observation_failed(ref=self.ref, alert_id=alert_id, alert=alert,
                                 fired_at=fired_at, day=day_of(start, max(fired_at, start)),
                                 reason=reason, at=at, actor=actor, cause=cause)
        self.reopen(reason, actor, at, cause)  # type: ignore[attr-defined]  (lifecycle.py)
        return True

    @event("ObservationFailed")
    def _observation_failed(self, ref: str, alert_id: str, alert: str, fired_at: datetime,
                            day: int, reason: str, at: datetime, actor: str,
                            cause: dict[str, Any]) -> None:
        self.observations_failed += 1
        self.observe_started_at = self.observe_ends_at = None

    def close_after_observation(self, at: datetime, actor: str, cause: dict[str, Any]) -> None:
        """The observation watch calls this once the window's end has passed."""
        if not self.observing or self.observe_ends_at is None or at < self.observe_ends_at:
            raise NotClosable(f"incident {self.ref} is not at the end of an observation window")
        window = timedelta(seconds=self.observe_seconds or 0)
        note = (f"the alert stayed clear through {window_name(window)}"
                if self.watches_alert else f"nobody reopened it during {window_name(window)}")
        self._close(  # type: ignore[attr-defined]
            ref=self.ref, capa_id=None, root_cause="", actions=0, at=at, actor=actor,
            cause=cause, path=ClosingPath.OBSERVE.value, note=note, by=None)

    # -- optional --------------------------------------------------------------------------
    def close_by_hand(self, note: str, by: str, at: datetime, cause: dict[str, Any]) -> None:
        """A CAPA is optional for its severity and nobody opened one: a person closes it
        with what was done and why no CAPA is needed."""
        self.check_not_finished("be closed")
        if not note or not note.strip():
            raise Invalid("note", "must say what was done and why no CAPA is needed")
        if self.resolved_at is None:  # type: ignore[attr-defined]
            raise NotClosable(f"incident {self.ref} cannot be closed by hand: resolve it first")
        if self.closing != ClosingPath.OPTIONAL or self.capa_requested \
                or self.capa_id is not None:  # type: ignore[attr-defined]
            raise NotClosable(
                f"incident {self.ref} cannot be closed by hand: {self._why_not_by_hand()}")
        self._close(  # type: ignore[attr-defined]
            ref=self.ref, capa_id=None, root_cause="", actions=0, at=at, actor=by,
            cause=cause, path=ClosingPath.OPTIONAL.value, note=note.strip(), by=by)

    def _why_not_by_hand(self) -> str:
        if self.capa_requested or self.capa_id is not None:  # type: ignore[attr-defined]
            return "a CAPA case was opened for it and closes it"
        if self.closing == ClosingPath.OBSERVE:
            return (f"it closes by itself once its alert stays clear for "
                    f"{span(timedelta(seconds=self.observe_seconds or 0))}")
        return "its severity requires a CAPA case, which closes it"

    def request_capa(self, reason: str, by: str, at: datetime, cause: dict[str, Any]) -> None:
        """A CAPA is optional and someone wants one all the same: the CAPA service opens a
        case (IncidentCapaRequested), which then closes the incident."""
        self.check_not_finished("get a CAPA case")
        if not reason or not reason.strip():
            raise Invalid("reason", "must say why a CAPA case is wanted")
        if self.resolved_at is None:  # type: ignore[attr-defined]
            raise NotClosable(f"incident {self.ref} gets a CAPA case when it is resolved: "
                              "resolve it first")
        if self.closing != ClosingPath.OPTIONAL or self.capa_requested \
                or self.capa_id is not None:  # type: ignore[attr-defined]
            raise NotClosable(f"incident {self.ref} cannot ask for a CAPA case: "
                              + ("it has one already" if self.capa_requested or self.capa_id
                                 else "its closing path is " + self.closing))
        self._capa_requested(
            ref=self.ref, severity=str(self.severity), title=self.title,  # type: ignore[attr-defined]
            entity=self.entity, by=by, reason=reason.strip(),  # type: ignore[attr-defined]
            resolution=self.resolution,  # type: ignore[attr-defined]
            fingerprint=self.fingerprint if self.watches_alert else None,  # type: ignore[attr-defined]
            interval_seconds=getattr(self, "interval_seconds", None), drill=self.drill,
            at=at, actor=by, cause=cause)

    @event("CapaRequested")
    def _capa_requested(self, ref: str, severity: str, title: str, entity: str, by: str,
                        reason: str, resolution: str, fingerprint: str | None,
                        interval_seconds: float | None, drill: bool, at: datetime, actor: str,
                        cause: dict[str, Any]) -> None:
        self.capa_requested = True

    # -- drills ----------------------------------------------------------------------------
    def flag_drill(self, reason: str, by: str, at: datetime, cause: dict[str, Any]) -> bool:
        """An exercise, not a real problem: shown as such, kept out of every KPI. False when
        flagged already. A finished incident can still be flagged (found out afterwards)."""
        if not reason or not reason.strip():
            raise Invalid("reason", "must say what the drill exercises")
        if self.drill:
            return False
        self._drill_flagged(ref=self.ref, reason=reason.strip(), by=by,
                            status=str(self.status),  # type: ignore[attr-defined]
                            at=at, actor=by, cause=cause,
                            fingerprint=self.fingerprint if self.watches_alert  # type: ignore[attr-defined]
                            else None)
        return True

    @event("DrillFlagged")
    def _drill_flagged(self, ref: str, reason: str, by: str, status: str, at: datetime,
                       actor: str, cause: dict[str, Any], fingerprint: str | None = None) -> None:
        self.drill, self.drill_reason = True, reason

